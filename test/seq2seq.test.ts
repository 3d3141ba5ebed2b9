// Seq2Seq end to end: date normalisation trained in the suite (≥ 98% exact match on 1,000 held-out
// inputs), sequence reversal whose cross-attention shows the alignment, decoding checked against
// teacher forcing and brute force, n-best lists checked against score(), save/load, training resumed
// from a checkpoint with its optimizer state, abort, NaN, ordering and disposal, and a float64
// gradient check of the whole model.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-seq2seq-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Teacher-forced log-probabilities [rows, T, V] of target inputs (each starting with <bos>). */
function teacherForced(model: qkv.Seq2Seq, source: string, targetIn: number[][]): Float64Array[][] {
  const src = model.encodeSources(Array(targetIn.length).fill(source));
  const T = targetIn[0].length;
  const ids = qkv.Tensor.from(Int32Array.from(targetIn.flat()), [targetIn.length, T]);
  const lp = qkv.noGrad(() => qkv.logSoftmax(model.logits(qkv.Tensor.from(src.ids, [src.rows, src.cols]), src.lengths, ids)));
  const v = Float64Array.from(lp.toTypedArray());
  const V = lp.shape[2];
  return targetIn.map((_, r) => Array.from({ length: T }, (_, t) => v.subarray((r * T + t) * V, (r * T + t + 1) * V)));
}

describe('Seq2Seq: date normalisation', () => {
  const train = qkv.data.generateDates(15_000, { seed: 1 });
  const heldOut = qkv.data.generateDates(1000, { seed: 2, exclude: train.map((p) => p.source) });
  const vocab = qkv.CharVocab.build([...train.map((p) => p.source), ...train.map((p) => p.target)]);
  let model: qkv.Seq2Seq;
  const progress: qkv.TrainProgress[] = [];
  let fitResult: qkv.TrainResult;

  beforeAll(async () => {
    model = new qkv.Seq2Seq({ vocab, dim: 64, heads: 4, ffDim: 256, encoderLayers: 2, decoderLayers: 2, dropout: 0, maxLength: 48, seed: 1 });
    fitResult = await model.fit(train, {
      epochs: 4,
      batchSize: 64,
      lr: 3e-3,
      seed: 1,
      validation: heldOut.slice(0, 200),
      onProgress: (p) => progress.push(p),
    });
  }, 600_000);

  it('reaches at least 98% exact match on 1,000 held-out inputs', async () => {
    const t0 = performance.now();
    const out = await model.translate(heldOut.map((p) => p.source));
    const exact = out.filter((o, i) => o.text === heldOut[i].target).length / heldOut.length;
    console.log(`dates: ${model.parameterCount} parameters, trained ${fitResult.steps} steps in ${fitResult.seconds.toFixed(1)} s ` +
      `(${fitResult.tokensPerSec.toFixed(0)} target tokens/s); exact match ${(exact * 100).toFixed(1)}% on ${heldOut.length} held-out; ` +
      `greedy decoding ${(performance.now() - t0).toFixed(0)} ms`);
    expect(exact).toBeGreaterThanOrEqual(0.98);
    expect(out.every((o) => o.finished)).toBe(true);
  });

  it('reported progress: every step in order, epoch ends with validation loss and token accuracy', async () => {
    expect(progress.length).toBeGreaterThan(10); // coalesced, but steady
    for (let i = 1; i < progress.length; i++) expect(progress[i].step).toBeGreaterThan(progress[i - 1].step);
    const ends = progress.filter((p) => p.epochEnd);
    expect(ends.map((p) => p.epoch)).toEqual([1, 2, 3, 4]);
    expect(ends.at(-1)!.step).toBe(ends.at(-1)!.totalSteps);
    expect(ends.at(-1)!.valAccuracy!).toBeGreaterThan(0.98);
    expect(fitResult.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
    expect(fitResult.epochs[3].loss).toBeLessThan(fitResult.epochs[0].loss / 10);
    // warm-up then decay
    const lrs = progress.map((p) => p.lr);
    expect(Math.max(...lrs)).toBeCloseTo(3e-3, 4);
    expect(lrs.at(-1)!).toBeLessThan(1e-4);
  });

  it('beam search normalises dates too, and its scores are the teacher-forced log-probabilities', async () => {
    const some = heldOut.slice(0, 100);
    const beams = await model.translate(some.map((p) => p.source), { beamSize: 4, lengthPenalty: 0.6 });
    expect(beams.filter((o, i) => o.text === some[i].target).length).toBeGreaterThanOrEqual(97);
    for (const b of beams.slice(0, 5)) {
      const [lp] = teacherForced(model, b.input, [[qkv.BOS_ID, ...b.ids]]);
      const want = [...b.ids, qkv.EOS_ID].reduce((s, id, t) => s + lp[t][id], 0);
      expect(b.logProb).toBeCloseTo(want, 3);
      expect(b.score).toBeCloseTo(want / (b.ids.length + 1) ** 0.6, 3);
    }
  });

  it('n-best: numReturn distinct outputs in non-increasing score order, the first the 1-best, scores the teacher-forced log-probabilities', async () => {
    const inputs = heldOut.slice(0, 10).map((p) => p.source);
    const opts = { beamSize: 4, lengthPenalty: 0.6 };
    const best = await model.translate(inputs, opts);
    const nbest = await model.translate(inputs, { ...opts, numReturn: 4 });
    let rescored = 0;
    for (const [i, r] of nbest.entries()) {
      const { alternatives, ...top } = r;
      expect(top).toEqual(best[i]);
      expect(alternatives).toHaveLength(4);
      expect(alternatives[0]).toEqual(best[i]);
      expect(new Set(alternatives.map((a) => a.ids.join(' '))).size).toBe(4);
      for (let k = 1; k < 4; k++) expect(alternatives[k].score).toBeLessThanOrEqual(alternatives[k - 1].score);
      // Independently: the synchronous teacher-forced logits, and score() (batched, without the cache).
      const finished = alternatives.filter((a) => a.finished);
      expect(finished[0]).toBe(alternatives[0]);
      const T = Math.max(...finished.map((a) => a.ids.length)) + 1; // rows padded after their end (the decoder is causal)
      const lps = teacherForced(model, r.input, finished.map((a) => [qkv.BOS_ID, ...a.ids, ...Array(T - 1 - a.ids.length).fill(qkv.PAD_ID)]));
      finished.forEach((a, k) => {
        const want = [...a.ids, qkv.EOS_ID].reduce((sum, id, t) => sum + lps[k][t][id], 0);
        expect(a.logProb).toBeCloseTo(want, 3);
        expect(a.score).toBeCloseTo(want / (a.ids.length + 1) ** 0.6, 3);
      });
      const plain = finished.filter((a) => vocab.encode(a.text).join(' ') === a.ids.join(' ')); // text that maps back to its ids
      const scored = await model.score(plain.map((a): [string, string] => [r.input, a.text]), { lengthPenalty: 0.6 });
      plain.forEach((a, k) => {
        expect(scored[k].logProb).toBeCloseTo(a.logProb, 3);
        expect(scored[k].score).toBeCloseTo(a.score, 3);
        expect(scored[k].length).toBe(a.ids.length + 1);
      });
      rescored += plain.length;
    }
    expect(rescored).toBeGreaterThan(30);
    const single = await model.translate(inputs[0], { beamSize: 3, numReturn: 2, attention: true });
    expect(single.attention!.weights.length).toBe(single.ids.length + 1);
    expect(single.alternatives[0].attention).toBe(single.attention);
    expect(single.alternatives[1].attention).toBeUndefined(); // only for the best
  });

  it('greedy decoding with the key/value cache picks the teacher-forced argmax at every step', async () => {
    const outs = await model.translate(heldOut.slice(0, 12).map((p) => p.source));
    for (const o of outs) {
      const [lp] = teacherForced(model, o.input, [[qkv.BOS_ID, ...o.ids]]);
      const argmax = lp.map((row) => row.indexOf(Math.max(...row)));
      expect(argmax).toEqual([...o.ids, qkv.EOS_ID]);
      expect(o.logProb).toBeCloseTo(argmax.reduce((s, id, t) => s + lp[t][id], 0), 3);
    }
  });

  it('returns the cross-attention weights on request, labelled, rows summing to one; plots them', async () => {
    const o = await model.translate('the 3rd of march 1999', { attention: true });
    expect(o.text).toBe('1999-03-03');
    const a = o.attention!;
    expect(a.targetTokens).toEqual([...'1999-03-03', '<eos>']);
    expect(a.sourceTokens).toEqual([...'the 3rd of march 1999', '<eos>']);
    expect(a.all.shape).toEqual([2, 4, 11, 22]);
    expect(a.weights.length).toBe(11);
    for (const row of a.weights) {
      expect(row.length).toBe(22);
      expect(row.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5);
    }
    const head0 = await model.translate('the 3rd of march 1999', { attention: { layer: 0, head: 1 } });
    const all = head0.attention!.all.toTypedArray();
    expect(head0.attention!.weights[2][5]).toBeCloseTo(all[((0 * 4 + 1) * 11 + 2) * 22 + 5], 6);
    const svg = qkv.plot.attention(a.weights, { rows: a.targetTokens, cols: a.sourceTokens, path: path.join(tmp, 'date.svg') });
    expect(svg).toContain('&lt;eos&gt;');
    expect(fs.readFileSync(path.join(tmp, 'date.svg'), 'utf8')).toBe(svg);
  });

  it('saves and loads: the same translations, the vocabularies and the config come back', async () => {
    const file = path.join(tmp, 'dates.safetensors');
    await model.save(file);
    const back = await qkv.Seq2Seq.load(file);
    expect(back.config).toEqual(model.config);
    expect(back.sourceVocab.tokens).toEqual(vocab.tokens);
    expect(back.parameterCount).toBe(model.parameterCount);
    const inputs = heldOut.slice(0, 30).map((p) => p.source);
    const [a, b] = [await model.translate(inputs, { beamSize: 2 }), await back.translate(inputs, { beamSize: 2 })];
    expect(b.map((o) => [o.text, o.score])).toEqual(a.map((o) => [o.text, o.score]));
    back.dispose();
    const enc = new qkv.TransformerEncoder({ vocab, dim: 8, heads: 2, layers: 1 });
    await enc.save(path.join(tmp, 'enc.safetensors'));
    await expect(qkv.Seq2Seq.load(path.join(tmp, 'enc.safetensors'))).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    await expect(qkv.Seq2Seq.load(path.join(tmp, 'missing.safetensors'))).rejects.toMatchObject({ code: 'ERR_IO' });
  });

  it('checks its arguments', async () => {
    expect(() => model.fit([])).toThrow(RangeError);
    expect(() => model.fit('pairs' as never)).toThrow(TypeError);
    expect(() => model.fit([['a', 'x'.repeat(60)]])).toThrow(/over maxLength 48/);
    expect(() => model.translate([])).toThrow(RangeError);
    expect(() => model.translate(5 as never)).toThrow(TypeError);
    expect(() => model.translate('x', { beamSize: 0 })).toThrow(RangeError);
    await expect(model.translate('x', { maxLength: 49 })).rejects.toThrow(RangeError);
    expect(() => model.translate('x', { signal: {} as AbortSignal })).toThrow(TypeError);
    for (const numReturn of [0, 3, 1.5]) expect(() => model.translate('x', { beamSize: 2, numReturn })).toThrow(/^Seq2Seq\.translate: option numReturn must be an integer in \[1, 2\]/);
    expect(() => model.translate('x', { beamSize: 2, numReturn: 3 })).toThrow(RangeError);
    expect(() => model.translate('x', { numReturn: 2 })).toThrow(RangeError); // greedy is a beam of 1
    expect(() => model.translate('x', { beamSize: 2, numReturn: '2' as unknown as number })).toThrow(TypeError);
    expect(() => model.score([['x', 'x'.repeat(60)]])).toThrow(RangeError);
    expect(() => model.fit([['a', 'b']], { resume: 1 as unknown as boolean })).toThrow(TypeError);
    expect(() => model.save(path.join(tmp, 'x.safetensors'), { optimizer: 'yes' as unknown as boolean })).toThrow(TypeError);
  });
});

describe('Seq2Seq: sequence reversal', () => {
  it('learns to reverse, and the cross-attention argmax of most rows points at the mirrored input position', async () => {
    const pairs = qkv.data.reversalPairs(4000, { seed: 1 });
    const test = qkv.data.reversalPairs(200, { seed: 2 });
    const vocab = qkv.CharVocab.build(pairs.map((p) => p.source));
    const model = new qkv.Seq2Seq({ vocab, dim: 64, heads: 1, encoderLayers: 1, decoderLayers: 1, dropout: 0, maxLength: 16, positional: 'learned', seed: 3 });
    await model.fit(pairs, { epochs: 100, maxSteps: 600, batchSize: 64, lr: 3e-3, seed: 1 });
    const out = await model.translate(test.map((p) => p.source), { attention: true });
    let exact = 0, aligned = 0, rows = 0;
    out.forEach((o, i) => {
      const n = test[i].source.length;
      if (o.text === test[i].target) exact++;
      const w = o.attention!.weights;
      for (let r = 0; r < Math.min(n, w.length); r++) {
        rows++;
        if (w[r].indexOf(Math.max(...w[r])) === n - 1 - r) aligned++;
      }
    });
    console.log(`reversal: exact ${(exact / test.length).toFixed(3)}, attention argmax at the mirrored position for ${(aligned / rows).toFixed(3)} of ${rows} rows`);
    expect(exact / test.length).toBeGreaterThan(0.85);
    expect(aligned / rows).toBeGreaterThan(0.8);
    model.dispose();
  }, 300_000);
});

describe('Seq2Seq: decoding, jobs and gradients', () => {
  // A tiny vocabulary: 5 specials + 'a', 'b'.
  const vocab = new qkv.CharVocab(['<pad>', '<bos>', '<eos>', '<unk>', '<mask>', 'a', 'b']);

  it('beam search (lengthPenalty 0, beams covering every prefix) finds the exact most likely output', async () => {
    for (const seed of [1, 2, 3]) {
      const model = new qkv.Seq2Seq({ vocab, dim: 16, heads: 2, encoderLayers: 1, decoderLayers: 1, dropout: 0, maxLength: 8, seed });
      const V = vocab.size, L = 3;
      // Log-probabilities of every prefix of length <= 2, from one teacher-forced pass over [bos, a, b].
      const prefixes: number[][] = [];
      for (let a = 0; a < V; a++) for (let b = 0; b < V; b++) prefixes.push([qkv.BOS_ID, a, b]);
      const lp = teacherForced(model, 'ab', prefixes);
      let best = -Infinity, bestSeq: number[] = [];
      for (let a = 0; a < V; a++)
        for (let b = 0; b < V; b++)
          for (let c = 0; c < V; c++) {
            const row = lp[a * V + b];
            const seqs: [number[], number][] = [
              [[a], row[0][a]],
              [[a, b], row[0][a] + row[1][b]],
              [[a, b, c], row[0][a] + row[1][b] + row[2][c]],
            ];
            for (const [s, score] of seqs) {
              const done = s.at(-1) === qkv.EOS_ID, full = s.length === L;
              if (s.slice(0, -1).includes(qkv.EOS_ID) || !(done || full)) continue;
              if (score > best + 1e-9) (best = score), (bestSeq = done ? s.slice(0, -1) : s);
            }
          }
      const o = await model.translate('ab', { beamSize: V * V, maxLength: L, lengthPenalty: 0 });
      expect(o.ids).toEqual(bestSeq);
      expect(o.logProb).toBeCloseTo(best, 4);
      model.dispose();
    }
  });

  it('greedy equals beam search of width 1, batch by batch; unfinished outputs stop at maxLength', async () => {
    const model = new qkv.Seq2Seq({ vocab, dim: 16, heads: 2, encoderLayers: 1, decoderLayers: 2, dropout: 0, maxLength: 12, seed: 5 });
    const inputs = ['a', 'ab', 'bbba', 'abab', 'b'];
    const g = await model.translate(inputs, { batchSize: 2 });
    const g1 = await model.translate(inputs, { batchSize: 5 });
    expect(g1.map((o) => o.ids)).toEqual(g.map((o) => o.ids));
    for (const o of g) {
      expect(o.finished ? o.ids.length < 12 : o.ids.length === 12).toBe(true);
      const [lp] = teacherForced(model, o.input, [[qkv.BOS_ID, ...(o.finished ? o.ids : o.ids.slice(0, -1))]]);
      const want = o.finished ? [...o.ids, qkv.EOS_ID] : o.ids;
      expect(want.map((_, t) => lp[t].indexOf(Math.max(...lp[t])))).toEqual(want);
    }
    model.dispose();
  });

  const resumeOptions = { batchSize: 8, lr: 3e-3, schedule: 'constant', seed: 5 } as const;
  const smallModel = () => new qkv.Seq2Seq({ vocab, dim: 16, heads: 2, encoderLayers: 1, decoderLayers: 1, maxLength: 16, dropout: 0.1, seed: 1 });
  const expectSameWeights = (a: qkv.Seq2Seq, b: qkv.Seq2Seq) => {
    const pb = new Map(b.namedParameters());
    for (const [name, p] of a.namedParameters()) {
      const x = p.toTypedArray(), y = pb.get(name)!.toTypedArray();
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(Math.abs(x[i]), 1e-3));
      expect(worst, name).toBeLessThan(1e-5);
    }
  };

  it('resume: N steps, save with the optimizer, load, M resumed steps equal N + M steps in one call (dropout on, mid-epoch)', async () => {
    const pairs = qkv.data.reversalPairs(100, { seed: 3, alphabet: 'ab' }); // 13 batches of 8 per epoch
    const whole = smallModel();
    const wholeResult = await whole.fit(pairs, { ...resumeOptions, maxSteps: 35 });
    expect(whole.optimizerStep).toBe(35);

    const first = smallModel();
    expect(first.optimizerStep).toBeNull();
    await first.fit(pairs, { ...resumeOptions, maxSteps: 20 });
    const file = path.join(tmp, 'resume.safetensors');
    await first.save(file, { optimizer: true });
    const saved = await qkv.loadSafetensors(file);
    expect(saved.tensors.has('optimizer/decoder.layers.0.linear1.weight/exp_avg_sq')).toBe(true);
    expect(JSON.parse(saved.metadata['qkv.optimizer'])).toMatchObject({ type: 'AdamW', step: 20, lr: 3e-3, betas: [0.9, 0.98] });

    const second = await qkv.Seq2Seq.load(file);
    expect(second.optimizerStep).toBe(20);
    const progress: qkv.TrainProgress[] = [];
    const r = await second.fit(pairs, { ...resumeOptions, maxSteps: 15, resume: true, onProgress: (p) => progress.push(p) });
    expect(r.steps).toBe(15);
    expect(second.optimizerStep).toBe(35);
    expect(progress.at(-1)).toMatchObject({ step: 35, totalSteps: 35, epoch: 3, epochEnd: true });
    expect(r.epochs.map((e) => e.epoch)).toEqual([2, 3]); // epoch 2 from its 8th batch on
    expect(r.epochs[1].loss).toBeCloseTo(wholeResult.epochs[2].loss, 5);
    expectSameWeights(second, whole);

    // Hyperparameters left out keep the saved ones (lr 3e-3, constant); a fit without resume starts afresh.
    const lrs: number[] = [];
    await second.fit(pairs, { maxSteps: 2, batchSize: 8, resume: true, onProgress: (p) => lrs.push(p.lr) });
    expect(lrs.at(-1)).toBeCloseTo(3e-3, 12);
    expect(second.optimizerStep).toBe(37);
    await second.fit(pairs, { maxSteps: 2, batchSize: 8 });
    expect(second.optimizerStep).toBe(2);
    await second.clearOptimizerState();
    expect(second.optimizerStep).toBeNull();
    for (const m of [whole, first, second]) m.dispose();
  });

  it('resume without optimizer state rejects with ERR_NO_STATE; a checkpoint saved without it loads without it', async () => {
    const pairs = qkv.data.reversalPairs(50, { seed: 3, alphabet: 'ab' });
    const model = smallModel();
    await expect(model.fit(pairs, { maxSteps: 1, resume: true })).rejects.toMatchObject({ code: 'ERR_NO_STATE', message: expect.stringMatching(/^Seq2Seq\.fit: resume: true needs optimizer state/) });
    await expect(model.save(path.join(tmp, 'none.safetensors'), { optimizer: true })).rejects.toMatchObject({ code: 'ERR_NO_STATE' });
    await model.fit(pairs, { maxSteps: 3, batchSize: 8 });
    const file = path.join(tmp, 'weights-only.safetensors');
    await model.save(file);
    expect([...(await qkv.loadSafetensors(file)).tensors.keys()].some((n) => n.startsWith('optimizer/'))).toBe(false);
    const back = await qkv.Seq2Seq.load(file);
    expect(back.optimizerStep).toBeNull();
    await expect(back.fit(pairs, { maxSteps: 1, resume: true })).rejects.toMatchObject({ code: 'ERR_NO_STATE' });
    model.dispose();
    back.dispose();
  });

  it('resume after an abort continues the same run: the kept state matches the steps taken, a decaying schedule continues', async () => {
    const pairs = qkv.data.reversalPairs(100, { seed: 4, alphabet: 'ab' });
    const options = { ...resumeOptions, epochs: 100, schedule: 'warmupCosine', warmupSteps: 20 } as const;
    const whole = smallModel();
    await whole.fit(pairs, { ...options, maxSteps: 300 }); // enough steps for the abort to land well before the end
    const split = smallModel();
    const ac = new AbortController();
    await expect(split.fit(pairs, { ...options, maxSteps: 300, signal: ac.signal, onProgress: () => ac.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const done = split.optimizerStep!;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(300);
    await split.fit(pairs, { ...options, maxSteps: 300 - done, resume: true });
    expect(split.optimizerStep).toBe(300);
    expectSameWeights(split, whole);
    whole.dispose();
    split.dispose();
  });

  it('fit: AbortSignal rejects with ERR_ABORTED and leaves the model usable; a diverging run rejects with ERR_NAN', async () => {
    const pairs = qkv.data.reversalPairs(2000, { seed: 3, alphabet: 'ab' });
    const model = new qkv.Seq2Seq({ vocab, dim: 16, heads: 2, encoderLayers: 1, decoderLayers: 1, maxLength: 16, seed: 1 });
    const ac = new AbortController();
    let steps = 0;
    const run = model.fit(pairs, { epochs: 50, batchSize: 8, signal: ac.signal, onProgress: (p) => { steps = p.step; ac.abort(); } });
    await expect(run).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(steps).toBeGreaterThan(0);
    expect(steps).toBeLessThan(200);
    await expect(model.fit(pairs, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect((await model.translate('ab')).input).toBe('ab');
    await expect(model.fit(pairs, { lr: 1e30, maxSteps: 20, clipNorm: 0, warmupSteps: 0 })).rejects.toMatchObject({ code: 'ERR_NAN' });
    model.dispose();
  });

  it('maxSteps alone runs that many steps, past the default 10 epochs; epochs with it, whichever ends first; eps reaches AdamW', async () => {
    const pairs = qkv.data.reversalPairs(32, { seed: 4, alphabet: 'ab' }); // 2 batches of 16 per epoch
    const make = () => new qkv.Seq2Seq({ vocab, dim: 16, heads: 2, encoderLayers: 1, decoderLayers: 1, maxLength: 16, seed: 1 });
    const model = make();
    const r = await model.fit(pairs, { batchSize: 16, maxSteps: 30 });
    expect(r.steps).toBe(30);
    expect(r.epochs.length).toBe(15);
    expect((await model.fit(pairs, { batchSize: 16, maxSteps: 30, epochs: 3 })).steps).toBe(6);
    expect((await model.fit(pairs, { batchSize: 16 })).steps).toBe(20);
    // A huge epsilon damps every AdamW update: the weights move far less than with the default.
    const moved = async (eps?: number) => {
      const m = make();
      const before = Array.from(m.namedParameters()[0][1].toTypedArray());
      await m.fit(pairs, { batchSize: 16, maxSteps: 5, schedule: 'constant', ...(eps === undefined ? {} : { eps }) });
      const after = m.namedParameters()[0][1].toTypedArray();
      m.dispose();
      return before.reduce((s, v, i) => s + Math.abs(v - after[i]), 0);
    };
    expect(await moved(10)).toBeLessThan((await moved()) / 100);
    model.dispose();
  });

  it('calls on one model run in order; dispose() waits for them, then later calls reject', async () => {
    const pairs = qkv.data.reversalPairs(500, { seed: 4, alphabet: 'ab' });
    const model = new qkv.Seq2Seq({ vocab, dim: 16, heads: 2, encoderLayers: 1, decoderLayers: 1, maxLength: 16, seed: 2 });
    const order: string[] = [];
    const fit = model.fit(pairs, { epochs: 2, batchSize: 16 }).then(() => order.push('fit'));
    const tr = model.translate('abba').then(() => order.push('translate'));
    const sv = model.save(path.join(tmp, 'order.safetensors')).then(() => order.push('save'));
    model.dispose();
    expect(model.disposed).toBe(true);
    await Promise.all([fit, tr, sv]);
    expect(order).toEqual(['fit', 'translate', 'save']);
    await expect(model.translate('ab')).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    expect(() => model.parameterCount).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });

  it('gradient check (float64) of the whole model: tied output, shared embeddings, learned positions, post-LN', async () => {
    const model = new qkv.Seq2Seq({
      vocab, dim: 8, heads: 2, ffDim: 12, encoderLayers: 1, decoderLayers: 1, dropout: 0, maxLength: 8, dtype: 'float64',
      positional: 'learned', norm: 'post', seed: 7,
    });
    const names = model.namedParameters().map(([n]) => n);
    expect(names.filter((n) => n.includes('embed'))).toEqual(['src_embed.weight']); // shared, listed once
    expect(names).toContain('output_bias');
    const src = qkv.Tensor.from(Int32Array.from([5, 6, 5, 2, 6, 2, 0, 0]), [2, 4]);
    const tgtIn = qkv.Tensor.from(Int32Array.from([1, 6, 5, 1, 5, 6]), [2, 3]);
    const R = qkv.randn([2, 3, vocab.size], { seed: 3, dtype: 'float64' });
    const loss = () => qkv.sum(qkv.mul(model.logits(src, [4, 2], tgtIn), R));
    model.zeroGrad();
    loss().backward();
    const eps = 1e-6;
    let checked = 0;
    for (const [name, p] of model.namedParameters()) {
      const g = Float64Array.from(p.grad!.toTypedArray()), base = Float64Array.from(p.toTypedArray());
      for (const i of [0, Math.floor(base.length / 2), base.length - 1]) {
        const at = async (v: number) => {
          const d = Float64Array.from(base);
          d[i] = v;
          await model.loadStateDict([[name, qkv.Tensor.from(d, p.shape)]], { strict: false });
          return qkv.noGrad(() => loss().item());
        };
        const num = ((await at(base[i] + eps)) - (await at(base[i] - eps))) / (2 * eps);
        await at(base[i]);
        expect(Math.abs(num - g[i]) / Math.max(1, Math.abs(num)), `${name}[${i}]`).toBeLessThan(1e-6);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(60);
  });
});
