// word2vec on the Brown corpus: trains skip-gram vectors with a progress bar, then prints nearest
// neighbours, an analogy, the odd one out and WordSim-353. Called by examples/demo.ts (`npm start`);
// also runs alone: `npx tsx examples/word2vec-demo.ts`.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { Word2Vec, type Word2VecProgress } from '../src/index';
import { brownTextFile } from '../bench/word2vec_brown';

function progressBar(p: Word2VecProgress, width = 30): string {
  const frac = p.wordsTotal > 0 ? Math.min(1, p.wordsDone / p.wordsTotal) : 0;
  const full = Math.round(frac * width);
  const bar = '█'.repeat(full) + '░'.repeat(width - full);
  return `  ${bar} ${(frac * 100).toFixed(0).padStart(3)}%  epoch ${p.epoch}  ` +
    `${Math.round(p.wordsPerSec / 1000)}k words/s  alpha ${p.alpha.toFixed(4)}  loss ${p.loss.toFixed(3)}`;
}

export async function word2vecDemo(): Promise<void> {
  const corpus = brownTextFile();
  console.log(`\nword2vec: skip-gram with negative sampling on the Brown corpus (${corpus.words.toLocaleString('en-US')} words)`);
  const tty = process.stdout.isTTY;
  let lastEpoch = 0;
  const model = await Word2Vec.train(corpus.path, {
    architecture: 'skipgram', dim: 100, window: 5, negative: 5, minCount: 5, sample: 1e-3, epochs: 5,
    onProgress: (p) => {
      if (tty) process.stdout.write(`\r${progressBar(p)}`);
      else if (p.epoch !== lastEpoch || p.wordsDone === p.wordsTotal) {
        lastEpoch = p.epoch;
        console.log(progressBar(p));
      }
    },
  });
  if (tty) process.stdout.write('\n');
  const t = model.lastTraining!;
  console.log(`  ${model.size.toLocaleString('en-US')} words in the vocabulary; trained in ${t.seconds.toFixed(1)} s ` +
    `(${Math.round(t.wordsPerSec / 1000)}k words/s), vocabulary pass ${t.vocabSeconds.toFixed(2)} s`);

  for (const word of ['monday', 'five', 'church', 'war', 'money']) {
    const near = model.mostSimilar(word, { topN: 6 }).map((s) => `${s.word} ${s.similarity.toFixed(2)}`);
    console.log(`  ${word.padEnd(7)} → ${near.join(', ')}`);
  }
  for (const [a, b, c] of [['he', 'his', 'she'], ['boy', 'girl', 'man'], ['go', 'went', 'come']]) {
    const best = model.analogy(a, b, c, { topN: 3 }).map((s) => s.word);
    console.log(`  ${a} is to ${b} as ${c} is to ${best[0]}   (then ${best.slice(1).join(', ')})`);
  }
  const odd = ['breakfast', 'lunch', 'dinner', 'church'];
  console.log(`  odd one out of ${odd.join(', ')}: ${model.doesntMatch(odd)}`);
  const wordsim = path.join(__dirname, '..', 'data', 'wordsim353.tsv');
  if (existsSync(wordsim)) {
    const r = await model.evaluateWordPairs(wordsim);
    console.log(`  WordSim-353: Spearman ${r.spearman.toFixed(3)} on ${r.pairs} pairs (${(r.oov * 100).toFixed(0)}% have a word Brown lacks)`);
  }
  await model.dispose();
}

if (require.main === module) {
  word2vecDemo().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
