// The Seq2Seq part of `npm start`: a small encoder–decoder transformer learns to normalise dates
// written in twenty-odd ways ("the 3rd of march 1999", "3/3/99", "Wed 3 Mar 1999" → "1999-03-03"),
// translates a few unseen ones, and draws where its decoder looked while writing one of them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as qkv from '../src/index';

export async function seq2seqDemo(options: { outDir?: string; pairs?: number; epochs?: number } = {}): Promise<void> {
  console.log('\nSeq2Seq: date normalisation with an encoder–decoder transformer');
  const train = qkv.data.generateDates(options.pairs ?? 12_000, { seed: 1 });
  const test = qkv.data.generateDates(500, { seed: 2, exclude: train.map((p) => p.source) });
  const vocab = qkv.CharVocab.build([...train.map((p) => p.source), ...train.map((p) => p.target)]);
  const model = new qkv.Seq2Seq({ vocab, dim: 64, heads: 4, encoderLayers: 2, decoderLayers: 2, dropout: 0, maxLength: 48, seed: 1 });
  console.log(`  ${train.length} pairs such as ${train.slice(0, 3).map((p) => `"${p.source}" → ${p.target}`).join(', ')}`);
  console.log(`  model: ${model.parameterCount.toLocaleString('en')} parameters, vocabulary of ${vocab.size} characters`);

  let last = 0;
  const result = await model.fit(train, {
    epochs: options.epochs ?? 4,
    batchSize: 64,
    lr: 3e-3,
    onProgress: (p) => {
      if (p.epochEnd || p.seconds - last > 10) {
        last = p.seconds;
        console.log(`  epoch ${p.epoch} step ${p.step}/${p.totalSteps}: loss ${p.loss.toFixed(4)}, ${p.tokensPerSec.toFixed(0)} target tokens/s`);
      }
    },
  });
  console.log(`  trained in ${result.seconds.toFixed(1)} s`);

  const out = await model.translate(test.map((p) => p.source));
  const exact = out.filter((o, i) => o.text === test[i].target).length / test.length;
  console.log(`  exact match on ${test.length} unseen inputs: ${(100 * exact).toFixed(1)}%`);
  const examples = ['the 3rd of march 1999', '3/3/99', 'March 3, 1999', 'Wednesday, march 3, 1999', '12-DEC-07', 'the 29th of february 2016'];
  const beams = await model.translate(examples, { beamSize: 4, attention: true });
  for (const b of beams) console.log(`  ${JSON.stringify(b.input).padEnd(28)} → ${b.text}   (beam score ${b.score.toFixed(3)})`);

  const dir = options.outDir ?? mkdtempSync(path.join(tmpdir(), 'qkv-demo-'));
  const file = path.join(dir, 'date-attention.svg');
  const a = beams[0].attention!;
  qkv.plot.attention(a.weights, { rows: a.targetTokens, cols: a.sourceTokens, title: `"${beams[0].input}" → ${beams[0].text}`, path: file });
  console.log(`  cross-attention of the last decoder layer (mean over heads) saved to ${file}`);
  model.dispose();
}

if (require.main === module) {
  seq2seqDemo({ outDir: process.argv[2] }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
