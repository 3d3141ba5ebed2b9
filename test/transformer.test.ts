// The transformer building blocks: multi-head attention against a float64 reference written here
// from its parameters, masks, attention weights, fused vs separate projections, encoder and
// decoder layers (pre-LN and post-LN), positional encodings, and gradient checks by central finite
// differences in float64 for all of them.
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import type { Tensor } from '../src/index';
import { tb } from '../src/transformer/native';

// ---- helpers --------------------------------------------------------------------------------------

function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { u, normal: () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()), int: (n: number) => Math.floor(u() * n) };
}

interface Arr {
  data: Float64Array;
  shape: number[];
}
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
function randArr(shape: number[], seed: number, scale = 1): Arr {
  const r = rng(seed);
  return { data: Float64Array.from({ length: numel(shape) }, () => r.normal() * scale), shape };
}
const tensor = (a: Arr) => qkv.Tensor.from(Float64Array.from(a.data), a.shape);
const f64 = (t: Tensor) => Float64Array.from(t.toTypedArray());

function params(m: { namedParameters(): [string, Tensor][] }): Record<string, Float64Array> {
  return Object.fromEntries(m.namedParameters().map(([n, t]) => [n, f64(t)]));
}

// y [N, out] = x [N, in] Wᵀ + b
function linear(x: Float64Array, N: number, inF: number, W: Float64Array, b: Float64Array | undefined, outF: number): Float64Array {
  const y = new Float64Array(N * outF);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[n * inF + i] * W[o * inF + i];
      y[n * outF + o] = s;
    }
  return y;
}

/** Multi-head attention in float64 from projected Q [B,T,D], K, V [B,S,D]: output [B,T,D] and weights [B,H,T,S]. */
function attendRef(Q: Float64Array, K: Float64Array, V: Float64Array, B: number, T: number, S: number, D: number, H: number, causal: boolean, lens?: number[]) {
  const Dh = D / H;
  const out = new Float64Array(B * T * D), w = new Float64Array(B * H * T * S);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++) {
        const vis: number[] = [];
        for (let j = 0; j < S; j++) if (j < (lens ? lens[b] : S) && (!causal || j <= i + S - T)) vis.push(j);
        if (!vis.length) continue;
        const sc = vis.map((j) => {
          let s = 0;
          for (let d = 0; d < Dh; d++) s += Q[(b * T + i) * D + h * Dh + d] * K[(b * S + j) * D + h * Dh + d];
          return s / Math.sqrt(Dh);
        });
        const mx = Math.max(...sc);
        const e = sc.map((x) => Math.exp(x - mx));
        const z = e.reduce((a, c) => a + c, 0);
        vis.forEach((j, k) => {
          const p = e[k] / z;
          w[((b * H + h) * T + i) * S + j] = p;
          for (let d = 0; d < Dh; d++) out[(b * T + i) * D + h * Dh + d] += p * V[(b * S + j) * D + h * Dh + d];
        });
      }
  return { out, w };
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  expect(got.length, what).toBe(want.length);
  let worst = 0, at = -1;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    if (!(e <= worst)) (worst = e), (at = i);
  }
  expect(worst, `${what}: worst relative error at ${at} (got ${got[at]}, want ${want[at]})`).toBeLessThanOrEqual(tol);
}

/**
 * Central finite differences in float64 against the autograd: for loss = sum(f(inputs) * R), the
 * gradient of a few sampled entries of every input and every parameter of `module`.
 */
async function gradCheck(
  module: qkv.nn.Module,
  f: (inputs: Tensor[]) => Tensor,
  inputs: Arr[],
  opts: { samples?: number; eps?: number; tol?: number; seed?: number; zeroGradAt?: { input: number; indices: number[] }; noGradient?: string[] } = {},
) {
  const samples = opts.samples ?? 4, eps = opts.eps ?? 1e-6, tol = opts.tol ?? 1e-6;
  const r = rng(opts.seed ?? 7);
  let R: Tensor | null = null;
  const loss = (ins: Tensor[]) => {
    const out = f(ins);
    if (!R) R = qkv.Tensor.from(Float64Array.from({ length: out.size }, () => r.normal()), out.shape);
    return qkv.sum(qkv.mul(out, R));
  };
  const ins = inputs.map((a) => {
    const t = tensor(a);
    t.requiresGrad = true;
    return t;
  });
  module.zeroGrad();
  loss(ins).backward();
  const inputGrads = ins.map((t) => f64(t.grad!));
  const paramGrads = module.namedParameters().map(([n, t]) => [n, t.grad ? f64(t.grad) : null] as const);
  const value = (ins2: Arr[]) => qkv.noGrad(() => loss(ins2.map(tensor)).item());
  const check = (analytic: number, numeric: number, what: string) => {
    const err = Math.abs(analytic - numeric) / Math.max(1, Math.abs(numeric));
    expect(err, `${what}: autograd ${analytic}, finite differences ${numeric}`).toBeLessThanOrEqual(tol);
  };
  let checked = 0;
  inputs.forEach((a, k) => {
    for (let s = 0; s < samples; s++) {
      const i = r.int(a.data.length);
      const plus = inputs.map((x) => ({ data: Float64Array.from(x.data), shape: x.shape }));
      const minus = inputs.map((x) => ({ data: Float64Array.from(x.data), shape: x.shape }));
      plus[k].data[i] += eps;
      minus[k].data[i] -= eps;
      check(inputGrads[k][i], (value(plus) - value(minus)) / (2 * eps), `input ${k}[${i}]`);
      checked++;
    }
  });
  if (opts.zeroGradAt) for (const i of opts.zeroGradAt.indices) expect(inputGrads[opts.zeroGradAt.input][i]).toBe(0);
  for (const [name, g] of paramGrads) {
    const p = module.namedParameters().find(([n]) => n === name)![1];
    const base = f64(p), shape = p.shape;
    if (!opts.noGradient?.includes(name)) expect(g, `${name} has a gradient`).not.toBeNull();
    for (let s = 0; s < samples; s++) {
      const i = r.int(base.length);
      const set = (v: number) => {
        const d = Float64Array.from(base);
        d[i] = v;
        return module.loadStateDict([[name, qkv.Tensor.from(d, shape)]], { strict: false });
      };
      await set(base[i] + eps);
      const lp = value(inputs);
      await set(base[i] - eps);
      const lm = value(inputs);
      await set(base[i]);
      check(g ? g[i] : 0, (lp - lm) / (2 * eps), `${name}[${i}]`);
      checked++;
    }
  }
  return checked;
}

// ---- multi-head attention -----------------------------------------------------------------------------

describe('MultiHeadAttention', () => {
  const B = 2, T = 5, S = 7, D = 8, H = 2;

  it('self-attention (fused projection) matches a float64 reference, with causal and padding masks', async () => {
    const m = new qkv.MultiHeadAttention({ dim: D, heads: H, dtype: 'float64', seed: 3 });
    expect(m.namedParameters().map(([n, t]) => `${n} ${t.shape.join('x')}`)).toEqual([
      'in_proj.weight 24x8', 'in_proj.bias 24', 'out_proj.weight 8x8', 'out_proj.bias 8',
    ]);
    const p = params(m);
    // PyTorch initialises biases to zero; give them values so that the check covers them.
    const bias = randArr([3 * D], 11, 0.3), obias = randArr([D], 12, 0.3);
    await m.loadStateDict([['in_proj.bias', tensor(bias)], ['out_proj.bias', tensor(obias)]], { strict: false });
    const x = randArr([B, T, D], 1);
    for (const [causal, lens] of [[false, undefined], [true, undefined], [false, [5, 3]], [true, [4, 2]]] as const) {
      const qkvp = linear(x.data, B * T, D, p['in_proj.weight'], bias.data, 3 * D);
      const split = (part: number) => {
        const o = new Float64Array(B * T * D);
        for (let n = 0; n < B * T; n++) for (let d = 0; d < D; d++) o[n * D + d] = qkvp[n * 3 * D + part * D + d];
        return o;
      };
      const ref = attendRef(split(0), split(1), split(2), B, T, T, D, H, causal, lens ? [...lens] : undefined);
      const want = linear(ref.out, B * T, D, p['out_proj.weight'], obias.data, D);
      const r = m.forwardWithWeights(tensor(x), { causal, keyLengths: lens });
      expect(r.output.shape).toEqual([B, T, D]);
      expectClose(f64(r.output), want, 1e-12, `output (causal ${causal}, lengths ${lens})`);
      expectClose(f64(r.weights!), ref.w, 1e-12, `weights (causal ${causal}, lengths ${lens})`);
      // asking for the weights does not change the output
      expect(Array.from(f64(m.forward(tensor(x), { causal, keyLengths: lens })))).toEqual(Array.from(f64(r.output)));
    }
  });

  it('cross-attention with separate projections matches the reference; padded memory has no influence and gets no gradient', async () => {
    const Dkv = 6;
    const m = new qkv.MultiHeadAttention({ dim: D, heads: H, kvDim: Dkv, selfAttention: false, fused: false, dtype: 'float64', seed: 4 });
    expect(m.namedParameters().map(([n]) => n)).toEqual([
      'q_proj.weight', 'q_proj.bias', 'k_proj.weight', 'k_proj.bias', 'v_proj.weight', 'v_proj.bias', 'out_proj.weight', 'out_proj.bias',
    ]);
    const p = params(m);
    const x = randArr([B, T, D], 2), mem = randArr([B, S, Dkv], 3);
    const lens = [7, 3];
    const Q = linear(x.data, B * T, D, p['q_proj.weight'], p['q_proj.bias'], D);
    const K = linear(mem.data, B * S, Dkv, p['k_proj.weight'], p['k_proj.bias'], D);
    const V = linear(mem.data, B * S, Dkv, p['v_proj.weight'], p['v_proj.bias'], D);
    const ref = attendRef(Q, K, V, B, T, S, D, H, false, lens);
    const want = linear(ref.out, B * T, D, p['out_proj.weight'], p['out_proj.bias'], D);
    const out = f64(m.forward(tensor(x), { memory: tensor(mem), keyLengths: lens }));
    expectClose(out, want, 1e-12, 'cross-attention output');
    // changing the padded memory rows of batch row 1 changes nothing
    const mem2 = { data: Float64Array.from(mem.data), shape: mem.shape };
    for (let j = 3; j < S; j++) for (let d = 0; d < Dkv; d++) mem2.data[(S + j) * Dkv + d] += 10;
    expect(Array.from(f64(m.forward(tensor(x), { memory: tensor(mem2), keyLengths: lens })))).toEqual(Array.from(out));
    const padded: number[] = [];
    for (let j = 3; j < S; j++) for (let d = 0; d < Dkv; d++) padded.push((S + j) * Dkv + d);
    const n = await gradCheck(m, ([a, b]) => m.forward(a, { memory: b, keyLengths: lens }), [x, mem], { zeroGradAt: { input: 1, indices: padded } });
    expect(n).toBeGreaterThan(30);
  });

  it('fused and separate projections compute the same function from the same weights', async () => {
    const fused = new qkv.MultiHeadAttention({ dim: D, heads: H, dtype: 'float64', seed: 5 });
    const sep = new qkv.MultiHeadAttention({ dim: D, heads: H, fused: false, dtype: 'float64', seed: 6 });
    const p = params(fused);
    const part = (name: 'weight' | 'bias', k: number) => {
      const n = name === 'weight' ? D * D : D;
      return qkv.Tensor.from(p[`in_proj.${name}`].slice(k * n, (k + 1) * n), name === 'weight' ? [D, D] : [D]);
    };
    await sep.loadStateDict([
      ['q_proj.weight', part('weight', 0)], ['k_proj.weight', part('weight', 1)], ['v_proj.weight', part('weight', 2)],
      ['q_proj.bias', part('bias', 0)], ['k_proj.bias', part('bias', 1)], ['v_proj.bias', part('bias', 2)],
      ['out_proj.weight', qkv.Tensor.from(p['out_proj.weight'], [D, D])], ['out_proj.bias', qkv.Tensor.from(p['out_proj.bias'], [D])],
    ]);
    const x = tensor(randArr([B, T, D], 8));
    expectClose(f64(sep.forward(x, { causal: true })), f64(fused.forward(x, { causal: true })), 1e-13, 'fused vs separate');
  });

  it('gradient check (float64): fused self-attention with causal and padding masks', async () => {
    const m = new qkv.MultiHeadAttention({ dim: D, heads: H, dtype: 'float64', seed: 9 });
    await m.loadStateDict([['in_proj.bias', tensor(randArr([3 * D], 13, 0.2))]], { strict: false });
    expect(await gradCheck(m, ([x]) => m.forward(x, { causal: true, keyLengths: [5, 2] }), [randArr([B, T, D], 10)])).toBeGreaterThan(15);
  });

  it('gradient check (float64): fused cross-attention, and through the explicit attention weights', async () => {
    const m = new qkv.MultiHeadAttention({ dim: D, heads: H, selfAttention: false, dtype: 'float64', seed: 10 });
    expect(m.namedParameters().map(([n]) => n)).toEqual(['q_proj.weight', 'q_proj.bias', 'kv_proj.weight', 'kv_proj.bias', 'out_proj.weight', 'out_proj.bias']);
    const x = randArr([B, T, D], 14), mem = randArr([B, S, D], 15);
    await gradCheck(m, ([a, b]) => m.forward(a, { memory: b, keyLengths: [6, 7] }), [x, mem]);
    // The weights do not depend on the values or the output projection: those get no gradient.
    await gradCheck(m, ([a, b]) => m.forwardWithWeights(a, { memory: b, keyLengths: [6, 2] }).weights!, [x, mem], {
      seed: 3,
      noGradient: ['out_proj.weight', 'out_proj.bias'],
    });
  });

  it('weights: rows sum to one, masked keys get zero, a fully masked row is all zeros', () => {
    const m = new qkv.MultiHeadAttention({ dim: D, heads: H, seed: 1 });
    const x = qkv.randn([B, T, D], { seed: 2 });
    const w = m.forwardWithWeights(x, { causal: true, keyLengths: [0, 3] }).weights!;
    expect(w.shape).toEqual([B, H, T, T]);
    const v = w.toTypedArray();
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++) {
        const row0 = v.subarray(((0 * H + h) * T + i) * T, ((0 * H + h) * T + i + 1) * T);
        expect(Array.from(row0).every((a) => a === 0)).toBe(true); // keyLengths 0
        const row = Array.from(v.subarray(((1 * H + h) * T + i) * T, ((1 * H + h) * T + i + 1) * T));
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        row.forEach((a, j) => {
          if (j >= 3 || j > i) expect(a).toBe(0);
        });
      }
    expect(Array.from(m.forward(x, { keyLengths: [0, 3] }).toTypedArray()).every(Number.isFinite)).toBe(true);
  });

  it('checks shapes, masks and options', () => {
    expect(() => new qkv.MultiHeadAttention({ dim: 10, heads: 3 })).toThrow(RangeError);
    expect(() => new qkv.MultiHeadAttention({ dim: 8, heads: 2, kvDim: 4 })).toThrow(RangeError); // self-attention with kvDim != dim
    const m = new qkv.MultiHeadAttention({ dim: 8, heads: 2 });
    expect(() => m.forward(qkv.zeros([2, 3, 7]))).toThrow(RangeError);
    expect(() => m.forward(qkv.zeros([2, 3, 8]), { keyLengths: [3] })).toThrow(/keyLengths has 1 entries for a batch of 2/);
    expect(() => m.forward(qkv.zeros([2, 3, 8]), { keyLengths: [3, 4] })).toThrow(RangeError);
    expect(() => m.forward(qkv.zeros([2, 3, 8], { dtype: 'float64' }))).toThrow(/the input is float64, the module's parameters are float32/);
    expect(() => m.forward(qkv.zeros([2, 3, 8]), { memory: qkv.zeros([2, 3, 8]) })).toThrow(/takes no memory/);
    const cross = new qkv.MultiHeadAttention({ dim: 8, heads: 2, selfAttention: false });
    expect(() => cross.forward(qkv.zeros([2, 3, 8]))).toThrow(/needs a memory/);
    expect(() => cross.forward(qkv.zeros([2, 3, 8]), { memory: qkv.zeros([3, 4, 8]) })).toThrow(RangeError);
    m.dispose();
    expect(() => m.forward(qkv.zeros([2, 3, 8]))).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });

  it('attention dropout acts in training mode only, seeded', () => {
    const m = new qkv.MultiHeadAttention({ dim: 8, heads: 2, dropout: 0.5, seed: 3 });
    const x = qkv.randn([1, 6, 8], { seed: 1 });
    const a = Array.from(m.forward(x).toTypedArray()), b = Array.from(m.forward(x).toTypedArray());
    expect(a).not.toEqual(b); // a fresh mask per call
    m.eval();
    const c = Array.from(m.forward(x).toTypedArray());
    expect(Array.from(m.forward(x).toTypedArray())).toEqual(c);
    expect(c).not.toEqual(a);
    const again = new qkv.MultiHeadAttention({ dim: 8, heads: 2, dropout: 0.5, seed: 3 });
    expect(Array.from(again.forward(x).toTypedArray())).toEqual(a); // same seed, same first mask
  });
});

// ---- layers ---------------------------------------------------------------------------------------------

describe('TransformerEncoderLayer and TransformerDecoderLayer', () => {
  const B = 2, T = 4, S = 6, D = 8, H = 2;
  const base = { dim: D, heads: H, ffDim: 12, dropout: 0, dtype: 'float64' as const };

  it('name their parameters as PyTorch does', () => {
    const enc = new qkv.TransformerEncoderLayer({ ...base, seed: 1 });
    expect(enc.namedParameters().map(([n]) => n)).toEqual([
      'self_attn.in_proj.weight', 'self_attn.in_proj.bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
      'linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias', 'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias',
    ]);
    const dec = new qkv.TransformerDecoderLayer({ ...base, seed: 1 });
    expect(dec.namedParameters().map(([n]) => n).filter((n) => !n.startsWith('self_attn'))).toEqual([
      'multihead_attn.q_proj.weight', 'multihead_attn.q_proj.bias', 'multihead_attn.kv_proj.weight', 'multihead_attn.kv_proj.bias',
      'multihead_attn.out_proj.weight', 'multihead_attn.out_proj.bias', 'linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias',
      'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias', 'norm3.weight', 'norm3.bias',
    ]);
    expect(enc.parameterCount).toBe(3 * D * D + 3 * D + D * D + D + 2 * D * 12 + 12 + D + 4 * D);
  });

  it('encoder layer, pre-LN: equals x + attn(ln1(x)), then + ff(ln2(.)), composed from the public parts', () => {
    const enc = new qkv.TransformerEncoderLayer({ ...base, seed: 2, activation: 'gelu' });
    const p = params(enc);
    const x = randArr([B, T, D], 3);
    const lens = [4, 2];
    const ln = (v: Float64Array, g: Float64Array, b: Float64Array) => {
      const o = new Float64Array(v.length);
      for (let n = 0; n < v.length / D; n++) {
        let mu = 0, va = 0;
        for (let d = 0; d < D; d++) mu += v[n * D + d] / D;
        for (let d = 0; d < D; d++) va += (v[n * D + d] - mu) ** 2 / D;
        for (let d = 0; d < D; d++) o[n * D + d] = ((v[n * D + d] - mu) / Math.sqrt(va + 1e-5)) * g[d] + b[d];
      }
      return o;
    };
    const erf = (z: number) => { // Abramowitz-Stegun 7.1.26 is too coarse; use a series/continued fraction via Math
      let s = 0, t = z, k = 0;
      while (Math.abs(t) > 1e-17 * Math.abs(s) || k < 3) { s += t / (2 * k + 1); k++; t *= (-z * z) / k; if (k > 200) break; }
      return (2 / Math.sqrt(Math.PI)) * s;
    };
    const h1 = ln(x.data, p['norm1.weight'], p['norm1.bias']);
    const qkvp = linear(h1, B * T, D, p['self_attn.in_proj.weight'], p['self_attn.in_proj.bias'], 3 * D);
    const part = (k: number) => Float64Array.from({ length: B * T * D }, (_, i) => qkvp[Math.floor(i / D) * 3 * D + k * D + (i % D)]);
    const att = linear(attendRef(part(0), part(1), part(2), B, T, T, D, H, false, lens).out, B * T, D, p['self_attn.out_proj.weight'], p['self_attn.out_proj.bias'], D);
    const r1 = x.data.map((v, i) => v + att[i]);
    const f1 = linear(ln(r1, p['norm2.weight'], p['norm2.bias']), B * T, D, p['linear1.weight'], p['linear1.bias'], 12).map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
    const want = r1.map((v, i) => v + linear(f1, B * T, 12, p['linear2.weight'], p['linear2.bias'], D)[i]);
    expectClose(f64(enc.forward(tensor(x), { keyLengths: lens })), want, 1e-10, 'encoder layer');
  });

  for (const norm of ['pre', 'post'] as const)
    it(`gradient check (float64): encoder layer, ${norm}-LN, with padding`, async () => {
      const enc = new qkv.TransformerEncoderLayer({ ...base, norm, seed: 4, activation: norm === 'pre' ? 'relu' : 'gelu' });
      await gradCheck(enc, ([x]) => enc.forward(x, { keyLengths: [4, 3] }), [randArr([B, T, D], 5)], { samples: 3 });
    });

  for (const norm of ['pre', 'post'] as const)
    it(`gradient check (float64): decoder layer, ${norm}-LN, causal self-attention and padded memory`, async () => {
      const dec = new qkv.TransformerDecoderLayer({ ...base, norm, seed: 6, fused: norm === 'pre' });
      const n = await gradCheck(dec, ([x, m]) => dec.forward(x, m, { memoryLengths: [6, 4] }), [randArr([B, T, D], 7), randArr([B, S, D], 8)], { samples: 3 });
      expect(n).toBeGreaterThan(60);
    });

  it('decoder layer is causal: an output never depends on later inputs; cross-attention weights are returned', () => {
    const dec = new qkv.TransformerDecoderLayer({ ...base, seed: 9 });
    const x = randArr([B, T, D], 10), mem = tensor(randArr([B, S, D], 11));
    const a = dec.forwardWithWeights(tensor(x), mem, { memoryLengths: [6, 2] });
    const x2 = { data: Float64Array.from(x.data), shape: x.shape };
    for (let d = 0; d < D; d++) x2.data[(0 * T + 3) * D + d] += 5; // position 3 of row 0
    const b = f64(dec.forward(tensor(x2), mem, { memoryLengths: [6, 2] }));
    const av = f64(a.output);
    for (let t = 0; t < T; t++)
      for (let d = 0; d < D; d++) {
        const i = (0 * T + t) * D + d;
        if (t < 3) expect(b[i]).toBe(av[i]);
      }
    expect(b[(0 * T + 3) * D]).not.toBe(av[(0 * T + 3) * D]);
    expect(a.crossWeights!.shape).toEqual([B, H, T, S]);
    expect(a.selfWeights!.shape).toEqual([B, H, T, T]);
    const cw = f64(a.crossWeights!);
    for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let j = 2; j < S; j++) expect(cw[((1 * H + h) * T + t) * S + j]).toBe(0);
  });

  it('residual dropout: random while training, the identity in eval mode', () => {
    const enc = new qkv.TransformerEncoderLayer({ dim: 8, heads: 2, dropout: 0.3, seed: 1 });
    const x = qkv.randn([2, 5, 8], { seed: 3 });
    expect(Array.from(enc.forward(x).toTypedArray())).not.toEqual(Array.from(enc.forward(x).toTypedArray()));
    enc.eval();
    expect(enc.training).toBe(false);
    expect(Array.from(enc.forward(x).toTypedArray())).toEqual(Array.from(enc.forward(x).toTypedArray()));
  });

  it('rejects bad configurations', () => {
    expect(() => new qkv.TransformerEncoderLayer({ dim: 8, heads: 3 })).toThrow(RangeError);
    expect(() => new qkv.TransformerEncoderLayer({ dim: 8, heads: 2, dropout: 1 })).toThrow(RangeError);
    expect(() => new qkv.TransformerEncoderLayer({ dim: 8, heads: 2, norm: 'middle' as 'pre' })).toThrow(TypeError);
    expect(() => new qkv.TransformerEncoderLayer({ dim: 8, heads: 2, activation: 'swish' as 'relu' })).toThrow(TypeError);
  });
});

describe('PositionalEncoding', () => {
  it('sinusoidal: PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] = cos(...), offset by the start position', () => {
    const pe = new qkv.PositionalEncoding({ maxLength: 50, dim: 6, dtype: 'float64' });
    expect(pe.parameterCount).toBe(0);
    const out = f64(pe.forward(qkv.zeros([1, 3, 6], { dtype: 'float64' }), 10));
    for (let t = 0; t < 3; t++)
      for (let i = 0; i < 6; i++) {
        const a = (10 + t) / 10000 ** ((i - (i % 2)) / 6);
        expect(out[t * 6 + i]).toBeCloseTo(i % 2 ? Math.cos(a) : Math.sin(a), 12);
      }
    expect(() => pe.forward(qkv.zeros([1, 3, 6], { dtype: 'float64' }), 48)).toThrow(/exceed maxLength 50/);
  });

  it('learned: a trained table whose gradient reaches only the positions used', async () => {
    const pe = new qkv.PositionalEncoding({ kind: 'learned', maxLength: 8, dim: 4, dtype: 'float64', seed: 2 });
    expect(pe.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([['weight', [8, 4]]]);
    const n = await gradCheck(pe, ([x]) => pe.forward(x, 2), [randArr([2, 3, 4], 1)], { samples: 6 });
    expect(n).toBeGreaterThan(5);
    pe.zeroGrad();
    qkv.sum(pe.forward(qkv.zeros([2, 3, 4], { dtype: 'float64' }), 2)).backward();
    const g = f64(pe.namedParameters()[0][1].grad!);
    for (let p = 0; p < 8; p++) for (let d = 0; d < 4; d++) expect(g[p * 4 + d]).toBe(p >= 2 && p < 5 ? 2 : 0);
  });
});

describe('fused residual dropout (the layers\' dropout)', () => {
  // Internal functions of the binding, exercised directly.
  const wrap = (h: unknown) => new qkv.Tensor(h as never);

  it('keeps each element with probability 1 - p, scaled by exactly 1 / (1 - p), the same for a seed on any thread count', () => {
    const n = 200_003, p = 0.1;
    const y = qkv.Tensor.from(Float64Array.from({ length: n }, (_, i) => 1 + (i % 7)));
    const out = wrap(tb.tfDropout(y._h, p, 42)).toTypedArray();
    const scale = 1 / (1 - Math.round(p * 2 ** 32) / 2 ** 32);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (out[i] !== 0) {
        kept++;
        expect(out[i]).toBe((1 + (i % 7)) * scale);
      }
    }
    expect(Math.abs(kept / n - (1 - p))).toBeLessThan(0.004);
    const before = qkv.threads();
    qkv.setThreads(1);
    const single = wrap(tb.tfDropout(y._h, p, 42)).toTypedArray();
    qkv.setThreads(before);
    expect(Array.from(single)).toEqual(Array.from(out));
    for (const level of qkv.simd.available()) {
      const prev = qkv.simd.level();
      qkv.simd.use(level);
      const got = wrap(tb.tfDropout(y._h, p, 42)).toTypedArray();
      qkv.simd.use(prev);
      expect(Array.from(got), `SIMD level ${level}`).toEqual(Array.from(out));
    }
    expect(Array.from(wrap(tb.tfDropout(y._h, p, 43)).toTypedArray())).not.toEqual(Array.from(out));
    expect(wrap(tb.tfDropout(y._h, 0, 42)).toTypedArray()).toEqual(y.toTypedArray());
    expect(() => tb.tfDropout(y._h, 1, 1)).toThrow(RangeError);
  });

  it('x + dropout(y): the gradient is 1 for x and the regenerated mask for y', () => {
    const x = qkv.randn([3, 1000], { seed: 1, dtype: 'float64', requiresGrad: true });
    const y = qkv.randn([3, 1000], { seed: 2, dtype: 'float64', requiresGrad: true });
    const out = wrap(tb.tfAddDropout(x._h, y._h, 0.3, 7));
    const drop = wrap(tb.tfDropout(qkv.noGrad(() => y.detach())._h, 0.3, 7)).toTypedArray();
    const xv = x.toTypedArray(), yv = y.toTypedArray(), ov = out.toTypedArray();
    for (let i = 0; i < ov.length; i++) expect(ov[i]).toBeCloseTo(xv[i] + drop[i], 12);
    const w = qkv.randn([3, 1000], { seed: 3, dtype: 'float64' });
    qkv.sum(qkv.mul(out, w)).backward();
    expect(Array.from(x.grad!.toTypedArray())).toEqual(Array.from(w.toTypedArray()));
    const gy = y.grad!.toTypedArray(), wv = w.toTypedArray();
    for (let i = 0; i < gy.length; i++) expect(gy[i]).toBeCloseTo(drop[i] === 0 ? 0 : (wv[i] * drop[i]) / yv[i], 9);
  });
});
