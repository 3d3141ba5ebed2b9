// DualEncoder (CLIP): the embeddings, zero-shot classification and retrieval metrics against
// independent computations on the model's own embeddings, checkpoints, errors, and two models that
// learn: MNIST digits with captions (zero-shot on held-out digits with prompt templates never used
// in training) and synthetic scenes whose captions only word order tells apart.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { DIGIT_WORDS as WORDS, HELD_OUT_TEMPLATES, digitCaptions, mnistDigits as digits } from './helpers/mnist-captions';

const smallTowers = (imageSize: number, channels: number, context: number) => ({
  embedDim: 64,
  vision: { imageSize, channels, patchSize: imageSize === 28 ? 7 : 4, width: 64, layers: 2, heads: 2 },
  text: { width: 64, layers: 2, heads: 2, context },
});

const rows = (t: qkv.Tensor) => {
  const [n, d] = t.shape;
  const v = t.toTypedArray();
  return Array.from({ length: n }, (_, i) => Array.from(v.subarray(i * d, (i + 1) * d)));
};
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

describe('DualEncoder: embeddings, zero-shot and retrieval', () => {
  const vocab = qkv.WordVocab.build(['a red circle left of a blue square', 'the digit seven', 'a photo of a cat']);
  const make = () => new qkv.DualEncoder({ tokenizer: vocab, ...smallTowers(16, 3, 10), seed: 3 });
  const images = qkv.randn([6, 3, 16, 16], { seed: 5 });
  const texts = ['a red circle', 'a blue square', 'the digit seven', 'a photo of a cat', 'a cat', 'seven'];

  it('encodes images and texts to unit vectors; similarity is their cosine matrix', async () => {
    const m = make();
    const img = await m.encodeImages(images, { batchSize: 4 });
    const txt = await m.encodeTexts(texts, { batchSize: 4 });
    expect(img.shape).toEqual([6, 64]);
    expect(txt.shape).toEqual([6, 64]);
    for (const r of [...rows(img), ...rows(txt)]) expect(Math.sqrt(dot(r, r))).toBeCloseTo(1, 5);
    // Batching does not change an embedding.
    const one = rows(await m.encodeImages(images, { batchSize: 1 }));
    rows(img).forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(one[i][j], 5)));
    const s = await m.similarity(images, texts);
    expect(s.shape).toEqual([6, 6]);
    const sv = rows(s), ir = rows(img), tr = rows(txt);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) expect(sv[i][j]).toBeCloseTo(dot(ir[i], tr[j]), 5);
    await m.dispose();
  });

  it('zeroShot averages each class prompts, renormalises, and takes the softmax of exp(t) times the cosine', async () => {
    const m = make();
    const names = ['circle', 'square', 'cat'], templates = ['a red {}', 'a photo of a {}'];
    const r = await m.zeroShot(images, names, { templates });
    const img = rows(await m.encodeImages(images));
    const prompts = rows(await m.encodeTexts(names.flatMap((n) => templates.map((t) => t.replace('{}', n)))));
    const classes = names.map((_, c) => {
      const avg = prompts[2 * c].map((v, j) => (v + prompts[2 * c + 1][j]) / 2);
      const norm = Math.sqrt(dot(avg, avg));
      return avg.map((v) => v / norm);
    });
    const scale = m.logitScale;
    expect(scale).toBeCloseTo(1 / 0.07, 4);
    const probs = rows(r.probs);
    img.forEach((x, i) => {
      const logits = classes.map((c) => scale * dot(x, c));
      const mx = Math.max(...logits), z = logits.reduce((s, l) => s + Math.exp(l - mx), 0);
      logits.forEach((l, c) => expect(probs[i][c]).toBeCloseTo(Math.exp(l - mx) / z, 4));
      expect(r.labels[i]).toBe(logits.indexOf(mx));
      expect(r.names[i]).toBe(names[r.labels[i]]);
    });
    await m.dispose();
  });

  it("evaluateRetrieval gives open_clip's recall@k, mean and median rank both ways", async () => {
    const m = make();
    const r = await m.evaluateRetrieval(images, texts);
    const img = rows(await m.encodeImages(images)), txt = rows(await m.encodeTexts(texts));
    const direction = (score: (q: number, c: number) => number) => {
      const ranks = img.map((_, q) => img.filter((__, c) => score(q, c) > score(q, q) || (score(q, c) === score(q, q) && c < q)).length);
      const sorted = [...ranks].sort((a, b) => a - b);
      return {
        r1: ranks.filter((x) => x < 1).length / ranks.length,
        r5: ranks.filter((x) => x < 5).length / ranks.length,
        r10: ranks.filter((x) => x < 10).length / ranks.length,
        meanRank: ranks.reduce((s, x) => s + x, 0) / ranks.length + 1,
        medianRank: sorted[Math.floor((ranks.length - 1) / 2)] + 1,
      };
    };
    const i2t = direction((q, c) => Math.fround(dot(img[q], txt[c])));
    const t2i = direction((q, c) => Math.fround(dot(img[c], txt[q])));
    for (const [got, want] of [[r.imageToText, i2t], [r.textToImage, t2i]] as const)
      for (const k of Object.keys(want) as (keyof typeof want)[]) expect(got[k], k).toBeCloseTo(want[k], 6);
    await m.dispose();
  });

  it('save and load give the same embeddings; the tokenizer travels with the weights', async () => {
    const m = make();
    await m.fit({ images, texts }, { epochs: 2, batchSize: 3 });
    const path = join(mkdtempSync(join(tmpdir(), 'qkv-clip-')), 'clip.safetensors');
    await m.save(path, { optimizer: true });
    const back = await qkv.DualEncoder.load(path);
    expect(back.optimizerStep).toBe(4);
    expect(Array.from((await back.encodeTexts(texts)).toTypedArray())).toEqual(Array.from((await m.encodeTexts(texts)).toTypedArray()));
    expect(Array.from((await back.encodeImages(images)).toTypedArray())).toEqual(Array.from((await m.encodeImages(images)).toTypedArray()));
    expect(back.logitScale).toBe(m.logitScale);
    await m.dispose();
    await back.dispose();
  });

  it('clamps the temperature at 100 after every step, and SigLIP trains its bias', async () => {
    const m = new qkv.DualEncoder({ tokenizer: vocab, ...smallTowers(16, 3, 10), initLogitScale: Math.log(100) - 1e-3 });
    await m.fit({ images, texts }, { epochs: 3, batchSize: 6, lr: 0.5, warmupSteps: 0 });
    expect(m.logitScale).toBeLessThanOrEqual(100 * (1 + 1e-6));
    const s = new qkv.CLIP({ tokenizer: vocab, ...smallTowers(16, 3, 10), loss: 'siglip' });
    expect(s.logitScale).toBeCloseTo(10, 5);
    expect(s.parameter('logit_bias').item()).toBe(-10);
    const r = await s.fit({ images, texts }, { epochs: 2, batchSize: 6, lr: 1e-2 });
    expect(Number.isFinite(r.epochs[1].loss)).toBe(true);
    expect(s.parameter('logit_bias').item()).not.toBe(-10);
    await m.dispose();
    await s.dispose();
  });

  it('refuses bad input with errors that name the call', async () => {
    const m = make();
    expect(() => new qkv.DualEncoder({ tokenizer: qkv.CharVocab.build(['ab'], { specials: ['pad', 'unk'] } as never) })).toThrow(/eos/);
    await expect(m.encodeImages(qkv.randn([2, 3, 8, 8]))).rejects.toThrow(/VisionTransformer: images must be \[N, 3, 16, 16\]/);
    await expect(m.encodeImages(qkv.randn([2, 16, 16]))).rejects.toThrow(RangeError);
    await expect(m.fit({ images, texts: texts.slice(1) })).rejects.toThrow(/6 images and 5 texts/);
    await expect(m.fit({ images, texts }, { batchSize: 1 })).rejects.toThrow(/batchSize must be at least 2/);
    await expect(m.zeroShot(images, ['a'], { templates: ['no slot'] })).rejects.toThrow(/has no \{\}/);
    expect(() => new qkv.DualEncoder({ tokenizer: vocab, vision: { imageSize: 30, patchSize: 4 } })).toThrow(/multiple of patchSize/);
    await m.dispose();
  });
});

describe('DualEncoder learns', () => {
  it('MNIST digits with captions: zero-shot top-1 >= 90% on held-out digits with prompts never seen in training', async () => {
    const train = digits(0, 8000), test = digits(8000, 2000);
    const captions = digitCaptions(train.labels);
    const vocab = qkv.WordVocab.build([...captions, ...HELD_OUT_TEMPLATES]);
    const m = new qkv.DualEncoder({ tokenizer: vocab, ...smallTowers(28, 1, 12) });
    const t0 = Date.now();
    await m.fit({ images: train.images, texts: captions }, { epochs: 12, batchSize: 128, lr: 2e-3 });
    const seconds = (Date.now() - t0) / 1000;
    const zs = await m.zeroShot(test.images, WORDS, { templates: HELD_OUT_TEMPLATES });
    const accuracy = zs.labels.filter((l, i) => l === test.labels[i]).length / test.labels.length;
    // Retrieval on held-out pairs: many captions are alike ("the digit 7"), so recall@1 is bounded by ties.
    const pairs = digits(8000, 500);
    const ret = await m.evaluateRetrieval(pairs.images, pairs.labels.map((d) => `the handwritten ${WORDS[d]}`));
    console.log(`MNIST dual encoder: trained ${seconds.toFixed(1)} s; zero-shot ${(100 * accuracy).toFixed(1)}% on 2,000 held-out digits; ` +
      `retrieval R@1/R@10 image→text ${ret.imageToText.r1.toFixed(3)}/${ret.imageToText.r10.toFixed(3)}, text→image ${ret.textToImage.r1.toFixed(3)}/${ret.textToImage.r10.toFixed(3)}`);
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
    expect(ret.textToImage.r10).toBeGreaterThan(10 / 500);
    await m.dispose();
  });

  it('the small ResNet image tower (batch norm, residual stages) learns the digits too', async () => {
    const train = digits(0, 3000), test = digits(8000, 1000);
    const captions = digitCaptions(train.labels);
    const vocab = qkv.WordVocab.build([...captions, ...HELD_OUT_TEMPLATES]);
    const m = new qkv.DualEncoder({ tokenizer: vocab, embedDim: 64, vision: { kind: 'cnn', imageSize: 28, channels: 1, width: 16, blocks: [1, 1] }, text: { width: 64, layers: 2, heads: 2, context: 12 } });
    expect(m.namedParameters().map(([n]) => n).filter((n) => n.startsWith('visual.')).slice(0, 4)).toEqual(['visual.stem.weight', 'visual.stem_bn.weight', 'visual.stem_bn.bias', 'visual.blocks.0.conv1.weight']);
    expect(m.namedBuffers().map(([n]) => n)).toContain('visual.blocks.1.shortcut_bn.running_var');
    await m.fit({ images: train.images, texts: captions }, { epochs: 5, batchSize: 128, lr: 2e-3 });
    const zs = await m.zeroShot(test.images, WORDS, { templates: HELD_OUT_TEMPLATES });
    const accuracy = zs.labels.filter((l, i) => l === test.labels[i]).length / test.labels.length;
    console.log(`MNIST dual encoder, ResNet tower: zero-shot ${(100 * accuracy).toFixed(1)}% after 5 epochs of 3,000 digits`);
    expect(accuracy).toBeGreaterThan(0.4);
    // Evaluation uses the running statistics: a batch of one gives the embedding it has in a batch of many.
    const one = await m.encodeImages(qkv.indexSelect(test.images, [3]));
    const many = await m.encodeImages(qkv.indexSelect(test.images, [0, 1, 2, 3]));
    Array.from(one.toTypedArray()).forEach((v, j) => expect(v).toBeCloseTo(many.toTypedArray()[3 * 64 + j], 5));
    await m.dispose();
  });

  it('synthetic scenes: text→image recall@1 well above chance, and captions with swapped colours or relation score lower', async () => {
    const N = 4000;
    const tr = qkv.data.shapeScenes(N, { seed: 1 }), te = qkv.data.shapeScenes(300, { seed: 2 });
    const vocab = qkv.WordVocab.build([...tr.scenes, ...te.scenes].flatMap((s) => [s.caption, s.colourSwapped, s.relationSwapped]));
    const m = new qkv.DualEncoder({ tokenizer: vocab, ...smallTowers(32, 3, 12) });
    await m.fit({ images: qkv.Tensor.from(tr.images, [N, 3, 32, 32]), texts: tr.scenes.map((s) => s.caption) }, { epochs: 10, batchSize: 128, lr: 2e-3 });
    // 100 held-out scenes of distinct kinds (one caption each): chance recall@1 is 1%.
    const seen = new Set<string>(), idx: number[] = [];
    te.scenes.forEach((s, i) => {
      const key = `${s.left.colour} ${s.left.shape} ${s.right.colour} ${s.right.shape}`;
      if (!seen.has(key) && idx.length < 100) seen.add(key), idx.push(i);
    });
    const px = 3 * 32 * 32, sel = new Float32Array(idx.length * px);
    idx.forEach((i, k) => sel.set(te.images.subarray(i * px, (i + 1) * px), k * px));
    const images = qkv.Tensor.from(sel, [idx.length, 3, 32, 32]);
    const scenes = idx.map((i) => te.scenes[i]);
    const ret = await m.evaluateRetrieval(images, scenes.map((s) => s.caption));
    const img = rows(await m.encodeImages(images));
    const score = async (f: (s: qkv.data.Scene) => string) => rows(await m.encodeTexts(scenes.map(f))).map((t, i) => dot(img[i], t));
    const [truth, colours, relation] = [await score((s) => s.caption), await score((s) => s.colourSwapped), await score((s) => s.relationSwapped)];
    const beats = (other: number[]) => truth.filter((v, i) => v > other[i]).length / truth.length;
    console.log(`scenes: text→image R@1 ${ret.textToImage.r1.toFixed(2)} R@5 ${ret.textToImage.r5.toFixed(2)} (chance 0.01); ` +
      `true caption above the colour swap ${beats(colours).toFixed(2)}, above the relation swap ${beats(relation).toFixed(2)}`);
    expect(ret.textToImage.r1).toBeGreaterThanOrEqual(0.1);
    expect(beats(colours)).toBeGreaterThan(0.7);
    expect(beats(relation)).toBeGreaterThan(0.7);
    await m.dispose();
  });
});
