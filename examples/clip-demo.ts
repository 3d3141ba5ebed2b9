// The dual-encoder part of `npm start`: a small CLIP trained on MNIST digits paired with captions
// in several phrasings (about 20 s on 2 cores), then zero-shot classification of 2,000 held-out
// digits with prompts it never saw, retrieval recall both ways, and two pictures: the similarity
// matrix of ten digits against ten captions (matches on the diagonal) and the confusion matrix.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as qkv from '../src/index';
// The digits and captions the dual encoder's test uses too.
import { DIGIT_WORDS, HELD_OUT_TEMPLATES, digitCaptions, mnistDigits } from '../test/helpers/mnist-captions';

export async function clipDemo(options: { outDir?: string; epochs?: number } = {}): Promise<void> {
  const train = mnistDigits(0, 8000), test = mnistDigits(8000, 2000);
  const captions = digitCaptions(train.labels);
  const vocab = qkv.WordVocab.build([...captions, ...HELD_OUT_TEMPLATES]);
  const clip = new qkv.DualEncoder({
    tokenizer: vocab, embedDim: 64,
    vision: { imageSize: 28, channels: 1, patchSize: 7, width: 64, layers: 2, heads: 2 },
    text: { width: 64, layers: 2, heads: 2, context: 12 },
  });
  console.log(`\nDualEncoder: ${clip.parameterCount.toLocaleString('en')} parameters; 8,000 digits with captions such as "${captions[0]}", "${captions[1]}", "${captions[2]}"`);
  const result = await clip.fit({ images: train.images, texts: captions }, { epochs: options.epochs ?? 10, batchSize: 128, lr: 2e-3 });
  console.log(`  trained ${result.steps} steps in ${result.seconds.toFixed(1)} s (${result.samplesPerSec.toFixed(0)} pairs/s); contrastive loss ${result.epochs[0].loss.toFixed(2)} -> ${result.epochs[result.epochs.length - 1].loss.toFixed(2)}; temperature 1/${clip.logitScale.toFixed(1)}`);

  const zs = await clip.zeroShot(test.images, DIGIT_WORDS, { templates: HELD_OUT_TEMPLATES });
  const correct = zs.labels.filter((l, i) => l === test.labels[i]).length;
  console.log(`  zero-shot on 2,000 held-out digits with unseen prompts (${HELD_OUT_TEMPLATES.map((t) => `"${t}"`).join(', ')}): ${(100 * correct / 2000).toFixed(1)}% top-1`);
  const pairs = mnistDigits(8000, 500);
  const ret = await clip.evaluateRetrieval(pairs.images, pairs.labels.map((d) => `the handwritten ${DIGIT_WORDS[d]}`));
  console.log(`  retrieval on 500 held-out pairs (captions repeat, so recall@1 is bounded by ties): image->text R@10 ${ret.imageToText.r10.toFixed(2)}, text->image R@10 ${ret.textToImage.r10.toFixed(2)}`);

  // Ten held-out digits, one of each, against ten captions: the matches lie on the diagonal.
  const firstOf = DIGIT_WORDS.map((_, d) => test.labels.indexOf(d));
  const ten = qkv.indexSelect(test.images, firstOf);
  const texts = DIGIT_WORDS.map((w) => `a handwritten ${w}`);
  const sim = await clip.similarity(ten, texts);
  const outDir = options.outDir ?? mkdtempSync(path.join(tmpdir(), 'qkv-clip-'));
  const simFile = path.join(outDir, 'clip-similarity.svg'), confFile = path.join(outDir, 'clip-confusion.svg');
  qkv.plot.similarity(sim, { rows: DIGIT_WORDS, cols: texts, thumbnails: qkv.add(qkv.mul(ten, 0.3081), 0.1307), path: simFile, title: 'cosine similarity: held-out digits x captions' });
  qkv.plot.confusion(test.labels, zs.labels, { classNames: DIGIT_WORDS, path: confFile, title: 'zero-shot on MNIST: rows truth, columns prediction' });
  console.log(`  similarity matrix: ${simFile}\n  confusion matrix: ${confFile}`);
  await clip.dispose();
}
