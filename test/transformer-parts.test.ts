// The composable transformer parts: a block decoded step by step through the preallocated
// key/value cache equals the whole-sequence recompute (left-padded rows and cross-attention
// included); positions with per-row offsets; pooling by cls, mean, last and end-of-text token;
// the logits processing and the generation loop over a synthetic bigram step model (greedy,
// seeded sampling with temperature, top-k and top-p against the renormalised distribution, stop
// tokens, streaming); Seq2Seq sampling and translateStream; checkpoints written before these
// parts load and compute as they did (fixtures from test/fixtures/make_transformer_v0.ts).
import path from 'node:path';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { handle } from '../src/tensor';
import { tb, type NativeModule } from '../src/transformer/native';
import type { NativeTensor } from '../src/native';

type Hyp = { ids: number[]; finished: boolean; stopToken: number; score: number; logProb: number };
interface PartsBinding {
  tfBlockRun(m: NativeModule, x: NativeTensor, o: object): NativeTensor;
  tfPositionalRows(m: NativeModule, x: NativeTensor, offsets: number[]): NativeTensor;
  tfPool(h: NativeTensor, lengths: number[], pooling: string, ids: NativeTensor | null, eotId: number): NativeTensor;
  tfProcessLogits(x: NativeTensor, seen: number[][], penalty: number, temperature: number): NativeTensor;
  tfGenerateBigram(table: NativeTensor, contexts: number[][], o: object): { results: Hyp[][]; streamed: Int32Array };
}
const pb = tb as unknown as PartsBinding;
const fixtures = path.join(__dirname, 'fixtures');

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const randn = (shape: number[], seed: number) => {
  const u = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return qkv.Tensor.from(Float64Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u())), shape);
};
const arr = (t: qkv.Tensor | NativeTensor) => Array.from((t instanceof qkv.Tensor ? t : new qkv.Tensor(t)).toTypedArray() as Float64Array);
const h = (t: qkv.Tensor) => handle(t, 'test', 'tensor');
const create = (config: object) => tb.tfCreate(JSON.stringify(config));
const layer = { dim: 8, heads: 2, ffDim: 16, dropout: 0, dtype: 'float64', seed: 3 };

describe('TransformerBlock and the preallocated key/value cache', () => {
  it('step by step through the cache equals the whole causal sequence, left-padded rows included; a padded row equals its text alone', () => {
    for (const norm of ['pre', 'post']) {
      const m = create({ type: 'TransformerBlock', ...layer, norm, causal: true, activation: 'quickGelu' });
      const B = 3, T = 6, D = 8, starts = [0, 2, 4];
      const x = randn([B, T, D], 1);
      const full = arr(pb.tfBlockRun(m, h(x), { keyStarts: starts }));
      for (const capacity of [T, 2]) { // 2: the buffers grow (by doubling) while decoding
        const step = arr(pb.tfBlockRun(m, h(x), { keyStarts: starts, stepwise: true, capacity }));
        for (let b = 0; b < B; b++)
          for (let t = starts[b]; t < T; t++)
            for (let d = 0; d < D; d++) expect(step[(b * T + t) * D + d]).toBeCloseTo(full[(b * T + t) * D + d], 10);
      }
      const xs = arr(x);
      for (let b = 1; b < B; b++) {
        const L = T - starts[b];
        const alone = qkv.Tensor.from(Float64Array.from(xs.slice((b * T + starts[b]) * D, (b + 1) * T * D)), [1, L, D]);
        const ref = arr(pb.tfBlockRun(m, h(alone), {}));
        for (let i = 0; i < L * D; i++) expect(full[(b * T + starts[b]) * D + i]).toBeCloseTo(ref[i], 10);
      }
      tb.nnDispose(m);
    }
  });

  it('a decoder layer (causal self-attention, cross-attention over padded memory) decodes step by step as in one pass', () => {
    const m = create({ type: 'TransformerDecoderLayer', ...layer });
    const x = randn([2, 5, 8], 2), memory = randn([2, 4, 8], 3);
    const o = { memory: h(memory), memoryLengths: [4, 2] };
    const full = arr(pb.tfBlockRun(m, h(x), o)), step = arr(pb.tfBlockRun(m, h(x), { ...o, stepwise: true }));
    full.forEach((v, i) => expect(step[i]).toBeCloseTo(v, 10));
    tb.nnDispose(m);
  });

  it('the encoder and decoder layers are blocks with their old names and configs', () => {
    const enc = create({ type: 'TransformerEncoderLayer', ...layer });
    expect(tb.nnNamedParameters(enc).map(([n]) => n)).toEqual([
      'self_attn.in_proj.weight', 'self_attn.in_proj.bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
      'linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias', 'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias',
    ]);
    expect(JSON.parse(tb.nnConfig(enc))).not.toHaveProperty('causal');
    const dec = create({ type: 'TransformerDecoderLayer', ...layer });
    expect(tb.nnNamedParameters(dec).map(([n]) => n).filter((n) => n.endsWith('weight'))).toEqual([
      'self_attn.in_proj.weight', 'self_attn.out_proj.weight', 'multihead_attn.q_proj.weight', 'multihead_attn.kv_proj.weight',
      'multihead_attn.out_proj.weight', 'linear1.weight', 'linear2.weight', 'norm1.weight', 'norm2.weight', 'norm3.weight',
    ]);
    const block = create({ type: 'TransformerBlock', ...layer, crossAttention: true, causal: true });
    expect(JSON.parse(tb.nnConfig(block))).toMatchObject({ type: 'TransformerBlock', crossAttention: true, causal: true });
    // Same seed, same options: the decoder layer and the causal cross-attention block are one function.
    const x = randn([1, 3, 8], 4), memory = randn([1, 2, 8], 5);
    expect(arr(pb.tfBlockRun(block, h(x), { memory: h(memory) }))).toEqual(arr(pb.tfBlockRun(dec, h(x), { memory: h(memory) })));
    for (const m of [enc, dec, block]) tb.nnDispose(m);
  });

  it('dropout counters advance in training mode only: eval calls leave the training stream as it was', () => {
    const config = { type: 'TransformerBlock', ...layer, dropout: 0.5, attentionDropout: 0.3 };
    const a = create(config), b = create(config), x = randn([2, 4, 8], 6);
    tb.nnSetTraining(a, false);
    const e1 = arr(pb.tfBlockRun(a, h(x), {}));
    expect(arr(pb.tfBlockRun(a, h(x), {}))).toEqual(e1);
    tb.nnSetTraining(a, true);
    tb.nnSetTraining(b, true);
    const ta = arr(qkv.noGrad(() => new qkv.Tensor(pb.tfBlockRun(a, h(x), {})))), tbb = arr(qkv.noGrad(() => new qkv.Tensor(pb.tfBlockRun(b, h(x), {}))));
    expect(ta).toEqual(tbb);
    expect(ta).not.toEqual(e1);
    tb.nnDispose(a);
    tb.nnDispose(b);
  });

  it('positions with per-row offsets: row b gets the encodings of offsets[b] + t, those below 0 as position 0', () => {
    const pos = create({ type: 'SinusoidalPositionalEncoding', maxLength: 16, dim: 4, dtype: 'float64' });
    const zeros = qkv.Tensor.from(new Float64Array(3 * 4 * 4), [3, 4, 4]);
    const offsets = [0, -2, 5];
    const out = arr(pb.tfPositionalRows(pos, h(zeros), offsets));
    const pe = (p: number, i: number) => (i % 2 ? Math.cos : Math.sin)(p / 10000 ** ((i - (i % 2)) / 4));
    for (let b = 0; b < 3; b++)
      for (let t = 0; t < 4; t++)
        for (let i = 0; i < 4; i++) expect(out[(b * 4 + t) * 4 + i]).toBeCloseTo(pe(Math.max(0, offsets[b] + t), i), 12);
    expect(() => pb.tfPositionalRows(pos, h(zeros), [13, 0, 0])).toThrow(RangeError);
    tb.nnDispose(pos);
  });
});

describe('pooling', () => {
  it('cls, mean, last and eot against a hand computation', () => {
    const B = 3, L = 5, D = 2;
    const hid = randn([B, L, D], 7), v = arr(hid);
    const lengths = [5, 3, 1];
    const ids = qkv.Tensor.from(Int32Array.from([1, 7, 2, 9, 2, 1, 8, 8, 0, 0, 1, 0, 0, 0, 0]), [B, L]);
    const at = (b: number, t: number) => [v[(b * L + t) * D], v[(b * L + t) * D + 1]];
    const pool = (p: string) => arr(pb.tfPool(h(hid), lengths, p, h(ids), 2));
    expect(pool('cls')).toEqual([0, 1, 2].flatMap((b) => at(b, 0)));
    expect(pool('last')).toEqual([0, 1, 2].flatMap((b) => at(b, lengths[b] - 1)));
    // eot: the first id 2 within the row's length (row 0 at position 2), else the last real token.
    expect(pool('eot')).toEqual([...at(0, 2), ...at(1, 2), ...at(2, 0)]);
    const mean = pool('mean');
    for (let b = 0; b < B; b++)
      for (let d = 0; d < D; d++) {
        let s = 0;
        for (let t = 0; t < lengths[b]; t++) s += at(b, t)[d];
        expect(mean[b * D + d]).toBeCloseTo(s / lengths[b], 12);
      }
    expect(() => pb.tfPool(h(hid), lengths, 'eot', null, 2)).toThrow(RangeError);
    expect(() => pb.tfPool(h(hid), lengths, 'max', null, 2)).toThrow(TypeError);
  });

  it("TransformerEncoder: encode with 'last' is the <eos> position's vector; a classifier can read the first <eos> ('eot')", async () => {
    const vocab = qkv.CharVocab.build(['abcdef']);
    const m = new qkv.TransformerEncoder({ vocab, dim: 8, heads: 2, ffDim: 16, layers: 1, numClasses: 2, classPooling: 'eot', dropout: 0, seed: 1 });
    const texts = ['abc', 'abcdef'];
    const last = await m.encode(texts, { pooling: 'last' });
    const batch = m.batch(texts);
    const hidden = new qkv.Tensor(tb.tfEncoderHidden(m._handle, h(qkv.Tensor.from(batch.ids, [batch.rows, batch.cols])), batch.lengths));
    const hv = hidden.toTypedArray(), lv = last.toTypedArray();
    for (let b = 0; b < 2; b++)
      for (let d = 0; d < 8; d++) expect(lv[b * 8 + d]).toBeCloseTo(hv[(b * batch.cols + batch.lengths[b] - 1) * 8 + d], 5);
    // Every text ends with its <eos>, so the first end-of-text token is the last one.
    expect(Array.from((await m.encode(texts, { pooling: 'eot' })).toTypedArray())).toEqual(Array.from(lv));
    for (const c of await m.classify(texts)) expect(c.probabilities[0] + c.probabilities[1]).toBeCloseTo(1, 6);
    m.dispose();
  });
});

// ---- generation over a synthetic step model ------------------------------------------------------

/** A bigram table [V, V] of log-probabilities: row t is the distribution after token t. */
function bigram(rows: number[][]) {
  return qkv.Tensor.from(Float64Array.from(rows.flatMap((r) => r.map(Math.log))), [rows.length, rows.length]);
}
const P = [
  [0.5, 0.25, 0.15, 0.1, 0],
  [0.1, 0.2, 0.3, 0.4, 0],
  [0.05, 0.05, 0.1, 0.3, 0.5],
  [0.25, 0.25, 0.25, 0.25, 0],
  [0.2, 0.2, 0.2, 0.2, 0.2],
].map((r) => r.map((p) => p || 1e-9));
const gen = (contexts: number[][], o: object) => pb.tfGenerateBigram(h(bigram(P)), contexts, o);

/** Frequencies of the first generated token over inputs x samples (context [0]). */
function firstTokenFrequencies(o: object, inputs = 100, samples = 64) {
  const r = gen(Array.from({ length: inputs }, () => [0]), { sample: true, numReturn: samples, maxNewTokens: 1, ...o });
  const f = new Array(5).fill(0);
  for (const hyps of r.results) for (const x of hyps) f[x.ids[0]]++;
  return f.map((c) => c / (inputs * samples));
}

describe('generate: greedy, sampling, stop tokens, streaming', () => {
  const ctx = [[0], [1], [2], [3]];
  it('temperature 0 and topK 1 sample the greedy path; sampling is deterministic for a seed', () => {
    const greedy = gen(ctx, { maxNewTokens: 6 }).results;
    expect(greedy[0][0].ids).toEqual([0, 0, 0, 0, 0, 0]);
    expect(greedy[1][0].ids).toEqual([3, 0, 0, 0, 0, 0]);
    expect(gen(ctx, { maxNewTokens: 6, sample: true, temperature: 0, seed: 5 }).results).toEqual(greedy);
    expect(gen(ctx, { maxNewTokens: 6, sample: true, topK: 1, seed: 9 }).results).toEqual(greedy);
    const a = gen(ctx, { maxNewTokens: 8, sample: true, seed: 1 }).results;
    expect(gen(ctx, { maxNewTokens: 8, sample: true, seed: 1 }).results).toEqual(a);
    expect(gen(ctx, { maxNewTokens: 8, sample: true, seed: 2 }).results).not.toEqual(a);
    // A sample depends on its seed and input index only, not on the chunk it was drawn in.
    expect(gen([ctx[2]], { maxNewTokens: 8, sample: true, seed: 1, firstInput: 2 }).results[0]).toEqual(a[2]);
  });

  it('empirical first-token frequencies match the renormalised distribution: plain, temperature, top-k, top-p', () => {
    const p = P[0];
    const close = (f: number[], q: number[]) => f.forEach((x, i) => expect(Math.abs(x - q[i])).toBeLessThan(0.03));
    close(firstTokenFrequencies({ seed: 1 }), p);
    const t2 = p.map((x) => Math.sqrt(x)), z = t2.reduce((a, b) => a + b);
    close(firstTokenFrequencies({ seed: 2, temperature: 2 }), t2.map((x) => x / z));
    close(firstTokenFrequencies({ seed: 3, topK: 3 }), [0.5 / 0.9, 0.25 / 0.9, 0.15 / 0.9, 0, 0]);
    const nucleus = firstTokenFrequencies({ seed: 4, topP: 0.7 }); // 0.5 + 0.25 reaches 0.7
    close(nucleus, [2 / 3, 1 / 3, 0, 0, 0]);
    expect(nucleus[2] + nucleus[3] + nucleus[4]).toBe(0);
    close(firstTokenFrequencies({ seed: 5, topP: 0.45 }), [1, 0, 0, 0, 0]);
  });

  it('repetition penalty as in Hugging Face: positive logits of seen tokens divided, negative ones multiplied; temperature divides', () => {
    const x = qkv.Tensor.from(Float64Array.from([2, -1, 0.5, -3, 1, 1, -2, 4]), [2, 4]);
    expect(arr(pb.tfProcessLogits(h(x), [[0, 1], [3, 3]], 2, 1))).toEqual([1, -2, 0.5, -3, 1, 1, -2, 2]);
    expect(arr(pb.tfProcessLogits(h(x), [[], []], 1, 0.5))).toEqual([4, -2, 1, -6, 2, 2, -4, 8]);
    // On the bigram model: token 0 follows itself greedily; penalised, the path moves on.
    const pen = gen([[0]], { maxNewTokens: 3, repetitionPenalty: 10 }).results[0][0].ids;
    expect(pen[0]).not.toBe(0);
  });

  it('stop tokens end a row (not part of its ids); streamed tokens are the results in order, stop token last', () => {
    const r = gen(ctx, { maxNewTokens: 10, sample: true, seed: 7, stopTokens: [4], numReturn: 3 });
    const seen = new Map<string, number[]>();
    for (let i = 0; i < r.streamed.length; i += 3) {
      const key = `${r.streamed[i]}:${r.streamed[i + 1]}`;
      seen.set(key, [...(seen.get(key) ?? []), r.streamed[i + 2]]);
    }
    let finished = 0;
    r.results.forEach((hyps, i) =>
      hyps.forEach((x, s) => {
        expect(x.ids).not.toContain(4);
        if (x.finished) finished++;
        expect(x.stopToken).toBe(x.finished ? 4 : -1);
        expect(seen.get(`${i}:${s}`)).toEqual(x.finished ? [...x.ids, 4] : x.ids);
        if (!x.finished) expect(x.ids.length).toBe(10);
      }),
    );
    expect(finished).toBeGreaterThan(0);
    const beams = gen(ctx, { maxNewTokens: 5, beamSize: 3, numReturn: 2, stopTokens: [4] });
    for (const hyps of beams.results) expect(hyps[0].score).toBeGreaterThanOrEqual(hyps[1].score);
    expect(() => gen(ctx, { sample: true, beamSize: 2 })).toThrow(RangeError);
    expect(() => gen(ctx, { sample: true, topP: 0 })).toThrow(RangeError);
    expect(() => gen(ctx, { repetitionPenalty: 0 })).toThrow(RangeError);
  });
});

// ---- Seq2Seq: checkpoints of the earlier layout, sampling, streaming ------------------------------

type Picked = { text: string; ids: number[]; score: number; logProb: number; finished: boolean };
const expected: {
  inputs: string[]; greedy: Picked[]; beam: Picked[][]; untied: Picked[]; encoderCls: number[]; encoderMean: number[]; classify: number[][];
} = JSON.parse(fs.readFileSync(path.join(fixtures, 'transformer_v0.json'), 'utf8'));
const pick = (t: qkv.Translation) => ({ text: t.text, ids: t.ids, score: t.score, logProb: t.logProb, finished: t.finished });
function sameHyps(got: ReturnType<typeof pick>[], want: ReturnType<typeof pick>[]) {
  expect(got.map((g) => g.text)).toEqual(want.map((w) => w.text));
  got.forEach((g, i) => {
    expect(g.score).toBeCloseTo(want[i].score, 4);
    expect(g.logProb).toBeCloseTo(want[i].logProb, 4);
    expect(g.finished).toBe(want[i].finished);
  });
}

describe('checkpoints saved before the transformer parts', () => {
  it('a Seq2Seq (tied output, sinusoidal, pre-LN, dropout) loads and translates as before: greedy and n-best beams', async () => {
    const m = await qkv.Seq2Seq.load(path.join(fixtures, 'seq2seq_v0.safetensors'));
    sameHyps((await m.translate(expected.inputs)).map(pick), expected.greedy);
    const beams = await m.translate(expected.inputs, { beamSize: 3, numReturn: 2 });
    beams.forEach((b, i) => sameHyps(b.alternatives.map(pick), expected.beam[i]));
    m.dispose();
  });

  it('a Seq2Seq with an untied generator, learned positions, post-LN and GELU loads and translates as before', async () => {
    const m = await qkv.Seq2Seq.load(path.join(fixtures, 'seq2seq_untied_v0.safetensors'));
    sameHyps((await m.translate(expected.inputs, { beamSize: 2 })).map(pick), expected.untied);
    m.dispose();
  });

  it('a TransformerEncoder with a classifier loads: the same sentence vectors and class probabilities', async () => {
    const m = await qkv.TransformerEncoder.load(path.join(fixtures, 'encoder_v0.safetensors'));
    const near = (a: ArrayLike<number>, b: number[]) => b.forEach((v, i) => expect(a[i]).toBeCloseTo(v, 5));
    near((await m.encode(expected.inputs, { pooling: 'cls' })).toTypedArray(), expected.encoderCls);
    near((await m.encode(expected.inputs, { pooling: 'mean' })).toTypedArray(), expected.encoderMean);
    (await m.classify(expected.inputs)).forEach((c, i) => near(c.probabilities, expected.classify[i]));
    m.dispose();
  });
});

describe('Seq2Seq: sampling and streaming', () => {
  it('seeded sampling is deterministic; temperature 0 and topK 1 equal greedy; stop tokens and maxNewTokens apply', async () => {
    const m = await qkv.Seq2Seq.load(path.join(fixtures, 'seq2seq_v0.safetensors'));
    const greedy = (await m.translate(expected.inputs)).map(pick);
    expect((await m.translate(expected.inputs, { temperature: 0, seed: 3 })).map(pick)).toEqual(greedy);
    expect((await m.translate(expected.inputs, { topK: 1, seed: 4 })).map(pick)).toEqual(greedy);
    const a = (await m.translate(expected.inputs, { temperature: 1.5, topP: 0.95, seed: 11 })).map(pick);
    // Decoded one by one the logits differ in the last float32 bits only: the same draws.
    expect((await m.translate(expected.inputs, { temperature: 1.5, topP: 0.95, seed: 11, batchSize: 1 })).map((t) => t.text)).toEqual(a.map((t) => t.text));
    expect((await m.translate(expected.inputs, { temperature: 1.5, topP: 0.95, seed: 12 })).map(pick)).not.toEqual(a);
    const samples = await m.translate(expected.inputs[0], { sample: true, numReturn: 4, seed: 1, maxNewTokens: 6 });
    expect(samples.alternatives).toHaveLength(4);
    for (const s of samples.alternatives) expect(s.ids.length).toBeLessThanOrEqual(6);
    const stop = greedy[0].text[1];
    const cut = await m.translate(expected.inputs[0], { stopTokens: [stop] });
    expect(cut.finished).toBe(true);
    expect(cut.stopToken).toBe(stop);
    expect(greedy[0].text.startsWith(cut.text)).toBe(true);
    expect(cut.text).not.toContain(stop);
    expect(() => m.translate('x', { temperature: Number.NaN })).toThrow(RangeError);
    expect(() => m.translate('x', { temperature: '1' as never })).toThrow(TypeError);
    expect(() => m.translate('x', { stopTokens: [10_000] })).toThrow(RangeError);
    m.dispose();
  });

  it('the cached step-by-step log-probabilities of sampled outputs equal the teacher-forced recompute', async () => {
    const m = await qkv.Seq2Seq.load(path.join(fixtures, 'seq2seq_v0.safetensors'));
    m.eval();
    const outs = await m.translate(expected.inputs, { temperature: 1.3, seed: 21, maxNewTokens: 12 });
    for (const o of outs) {
      const src = m.encodeSources([o.input]);
      const tgt = [qkv.BOS_ID, ...o.ids];
      const lp = qkv.noGrad(() => qkv.logSoftmax(m.logits(qkv.Tensor.from(src.ids, [1, src.cols]), src.lengths, qkv.Tensor.from(Int32Array.from(tgt), [1, tgt.length]))));
      const v = lp.toTypedArray(), V = lp.shape[2];
      const next = o.finished ? [...o.ids, qkv.EOS_ID] : o.ids;
      expect(o.logProb).toBeCloseTo(next.reduce((s, id, t) => s + v[t * V + id], 0), 4);
    }
    m.dispose();
  });

  it('translateStream yields the tokens of translate() as they come, texts joining to its text; breaking out aborts', async () => {
    const m = await qkv.Seq2Seq.load(path.join(fixtures, 'seq2seq_v0.safetensors'));
    for (const options of [{}, { temperature: 1.2, seed: 5 }, { beamSize: 3 }] as qkv.TranslateOptions[]) {
      const want = await m.translate(expected.inputs, options);
      const got = want.map(() => ({ ids: [] as number[], text: '', stops: 0 }));
      for await (const t of m.translateStream(expected.inputs, options)) {
        if (t.stop) got[t.input].stops++;
        else got[t.input].ids.push(t.id);
        got[t.input].text += t.text;
        expect(t.token).toBe(m.targetVocab.token(t.id));
      }
      want.forEach((w, i) => {
        expect(got[i].ids).toEqual(w.ids);
        expect(got[i].text).toBe(w.text);
        expect(got[i].stops).toBe(w.finished ? 1 : 0);
      });
    }
    let n = 0;
    for await (const _ of m.translateStream(expected.inputs[1], { maxNewTokens: 30 })) if (++n === 3) break;
    expect(n).toBe(3);
    expect((await m.translate(expected.inputs[0])).text).toBe(expected.greedy[0].text); // usable afterwards
    m.dispose();
  });
});
