// TransformerEncoder: padding-aware sentence embeddings, a classifier that needs word order
// (attention + positions), masked language modelling, save/load, training resumed from a checkpoint,
// abort, and its arguments.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-encoder-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const vocab = qkv.CharVocab.build(['abcdefghijklxy']);

/** Letters with one 'x' and one 'y'; label 1 when the x comes first. */
function orderTask(n: number, seed: number) {
  const r = new qkv.data.SeededRandom(seed);
  return Array.from({ length: n }, () => {
    const len = 5 + r.int(8);
    const s = Array.from({ length: len }, () => 'abcdef'[r.int(6)]);
    const p = r.int(len);
    let q = r.int(len - 1);
    if (q >= p) q++;
    s[p] = 'x';
    s[q] = 'y';
    return { text: s.join(''), label: p < q ? 1 : 0 };
  });
}

/** Runs of consecutive letters around a 12-letter cycle: each letter follows from its neighbours. */
function cycleTask(n: number, seed: number) {
  const r = new qkv.data.SeededRandom(seed), a = 'abcdefghijkl';
  return Array.from({ length: n }, () => {
    const st = r.int(12), len = 6 + r.int(7);
    return Array.from({ length: len }, (_, i) => a[(st + i) % 12]).join('');
  });
}

const rows = (t: qkv.Tensor) => {
  const [n, d] = t.shape, v = t.toTypedArray();
  return Array.from({ length: n }, (_, i) => Array.from(v.subarray(i * d, (i + 1) * d)));
};

describe('TransformerEncoder', () => {
  it('encode: mean pooling over real tokens only (a text gets the same vector alone or in a padded batch); cls is position 0', async () => {
    const m = new qkv.TransformerEncoder({ vocab, dim: 16, heads: 2, layers: 2, seed: 3 });
    const texts = ['abc', 'abcdefghijkl', 'xy'];
    const together = rows(await m.encode(texts, { batchSize: 3 }));
    const alone = rows(await m.encode(['abc']));
    expect(together[0].length).toBe(16);
    together[0].forEach((x, i) => expect(x).toBeCloseTo(alone[0][i], 5));
    // the mean over the hidden vectors of <bos> a b c <eos>
    const batch = m.batch(['abc']);
    const h = qkv.noGrad(() => m.eval().hidden(qkv.Tensor.from(batch.ids, [1, batch.cols]), batch.lengths));
    const hv = h.toTypedArray();
    for (let d = 0; d < 16; d++) {
      let s = 0;
      for (let t = 0; t < 5; t++) s += hv[t * 16 + d];
      expect(alone[0][d]).toBeCloseTo(s / 5, 5);
    }
    const cls = rows(await m.encode(texts, { pooling: 'cls' }));
    for (let d = 0; d < 16; d++) expect(cls[0][d]).toBeCloseTo(hv[d], 5);
    const unit = rows(await m.encode(texts, { normalize: true }));
    for (const u of unit) expect(Math.hypot(...u)).toBeCloseTo(1, 5);
    expect(m.training).toBe(false); // eval() above; encode restores the mode it found
  });

  it('learns a task that needs word order: is the x before the y?', async () => {
    const train = orderTask(3000, 1), test = orderTask(500, 2);
    const m = new qkv.TransformerEncoder({ vocab, dim: 32, heads: 4, layers: 2, dropout: 0, numClasses: 2, maxLength: 32, seed: 1 });
    const r = await m.fit(train.map((x) => x.text), {
      labels: train.map((x) => x.label),
      epochs: 3,
      batchSize: 32,
      lr: 3e-3,
      validation: { texts: test.map((x) => x.text), labels: test.map((x) => x.label) },
    });
    expect(r.epochs.at(-1)!.valAccuracy!).toBeGreaterThan(0.95);
    const pred = await m.classify(test.map((x) => x.text));
    const acc = pred.filter((p, i) => p.label === test[i].label).length / test.length;
    expect(acc).toBeCloseTo(r.epochs.at(-1)!.valAccuracy!, 6);
    expect(pred[0].probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    const ev = await m.evaluate(test.map((x) => x.text), { labels: test.map((x) => x.label) });
    expect(ev.accuracy).toBeCloseTo(acc, 6);

    // save and load: the same predictions and embeddings
    const file = path.join(tmp, 'order.safetensors');
    await m.save(file);
    const back = await qkv.TransformerEncoder.load(file);
    expect(back.vocab.tokens).toEqual(vocab.tokens);
    expect(back.config).toEqual(m.config);
    expect((await back.classify(test.slice(0, 20).map((x) => x.text))).map((p) => p.label)).toEqual(pred.slice(0, 20).map((p) => p.label));
    expect(rows(await back.encode(['xabcy']))).toEqual(rows(await m.encode(['xabcy'])));
  });

  it('masked language modelling: predicts hidden letters from their neighbours', async () => {
    const m = new qkv.TransformerEncoder({ vocab, dim: 32, heads: 4, layers: 2, dropout: 0, maxLength: 32, seed: 2 });
    const before = await m.evaluate(cycleTask(300, 3), { seed: 1 });
    const r = await m.fit(cycleTask(3000, 4), { epochs: 6, batchSize: 32, lr: 5e-3, validation: { texts: cycleTask(300, 3) } });
    const after = await m.evaluate(cycleTask(300, 3), { seed: 1 });
    expect(before.accuracy).toBeLessThan(0.3);
    expect(after.accuracy).toBeGreaterThan(0.85);
    expect(after.loss).toBeLessThan(before.loss / 3);
    expect(r.epochs.length).toBe(6);
  });

  it('resume: MLM for N steps, save with the optimizer, load, M resumed steps equal N + M steps (the masks continue too)', async () => {
    const texts = cycleTask(120, 5); // 8 batches of 16 per epoch
    const make = () => new qkv.TransformerEncoder({ vocab, dim: 16, heads: 2, layers: 1, dropout: 0.1, maxLength: 16, seed: 3 });
    const options = { batchSize: 16, lr: 3e-3, schedule: 'constant', seed: 2 } as const;
    const whole = make();
    await whole.fit(texts, { ...options, maxSteps: 20 });
    const first = make();
    await first.fit(texts, { ...options, maxSteps: 11 });
    const file = path.join(tmp, 'mlm-resume.safetensors');
    await first.save(file, { optimizer: true });
    const second = await qkv.TransformerEncoder.load(file);
    expect(second.optimizerStep).toBe(11);
    const r = await second.fit(texts, { ...options, maxSteps: 9, resume: true });
    expect(r.epochs.map((e) => e.epoch)).toEqual([2, 3]);
    const pw = new Map(whole.namedParameters());
    for (const [name, p] of second.namedParameters()) {
      const x = p.toTypedArray(), y = pw.get(name)!.toTypedArray();
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i]), name).toBeLessThanOrEqual(1e-5 * Math.max(Math.abs(y[i]), 1e-3));
    }
    await expect(make().fit(texts, { resume: true })).rejects.toMatchObject({ code: 'ERR_NO_STATE' });
    for (const m of [whole, first, second]) m.dispose();
  });

  it('parameters: counted once, named as PyTorch names a TransformerEncoder', () => {
    const m = new qkv.TransformerEncoder({ vocab, dim: 16, heads: 2, layers: 2, numClasses: 3, positional: 'learned', maxLength: 20 });
    const named = m.namedParameters();
    // a module's own parameters first, then its children's, in registration order
    expect(named.map(([n]) => n).slice(0, 4)).toEqual(['mlm_bias', 'embed.weight', 'pos.weight', 'encoder.layers.0.self_attn.in_proj.weight']);
    expect(named.map(([n]) => n)).toContain('encoder.norm.weight');
    expect(named.map(([n]) => n).slice(-2)).toEqual(['classifier.weight', 'classifier.bias']);
    expect(m.parameterCount).toBe(named.reduce((s, [, t]) => s + t.size, 0));
    const layer = 4 * 16 * 16 + 4 * 16 + 2 * 16 * 64 + 64 + 16 + 4 * 16;
    expect(m.parameterCount).toBe(vocab.size * 16 + 20 * 16 + 2 * layer + 2 * 16 + vocab.size + 16 * 3 + 3);
  });

  it('fit can be aborted; bad arguments are refused', async () => {
    const m = new qkv.TransformerEncoder({ vocab, dim: 16, heads: 2, layers: 1, seed: 1 });
    const ac = new AbortController();
    await expect(m.fit(cycleTask(2000, 1), { epochs: 20, batchSize: 8, signal: ac.signal, onProgress: () => ac.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(() => m.fit(['abc'], { labels: [0, 1] })).toThrow(RangeError);
    await expect(m.fit(['abc'], { labels: [0] })).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED' }); // no classifier
    await expect(m.classify(['abc'])).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED' });
    expect(() => m.encode([])).toThrow(RangeError);
    expect(() => m.encode(['a'], { pooling: 'max' as 'cls' })).toThrow(TypeError);
    expect(() => new qkv.TransformerEncoder({ vocab, dim: 10, heads: 4 })).toThrow(RangeError);
    const long = 'a'.repeat(500);
    expect((await m.encode([long])).shape).toEqual([1, 16]); // cut to maxLength
  });
});
