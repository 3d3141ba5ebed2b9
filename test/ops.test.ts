// Every op of the registry against independent float64 reference loops (test/helpers/reference.ts),
// on random inputs of awkward shapes (not multiples of any vector width), strided views and
// broadcasting, in float32 and float64, on every SIMD level this processor runs.
import { afterAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import {
  type Ref, binaryRef, erf, expectClose, mapRef, matmulRef, numel, permuteRef, randomRef, reduceRef, rng, rowsRef, softmaxRow, logSoftmaxRow,
} from './helpers/reference';
import { attentionRef } from './helpers/attention-reference';
import { adaptiveAvgPool2dRef, avgPool2dRef, conv2dRef, maxPool2dRef } from './helpers/image-reference';
import { batchNormRef, groupNormRef } from './helpers/norm-reference';
import { infoNCERef } from './helpers/contrastive-reference';

type FloatDType = 'float32' | 'float64';
const toTensor = (r: Ref, dtype: FloatDType) =>
  qkv.Tensor.from(dtype === 'float32' ? Float32Array.from(r.data) : Float64Array.from(r.data), r.shape);
const tol = (dtype: FloatDType, r32: number, a32: number) => (dtype === 'float32' ? [r32, a32] : [1e-11, 1e-12]) as [number, number];

function check(t: qkv.Tensor, ref: Ref, dtype: FloatDType, rtol: number, atol: number, what: string) {
  expect(t.shape, `${what} shape`).toEqual(ref.shape);
  expect(t.dtype).toBe(dtype);
  const [r, a] = tol(dtype, rtol, atol);
  expectClose(t.toTypedArray(), ref.data, r, a, what);
}

const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

// One entry per registry op: a function that checks it thoroughly for one dtype.
const cases: Record<string, (dtype: FloatDType) => void> = {
  reshape(dtype) {
    const a = randomRef([6, 35], 1);
    check(toTensor(a, dtype).reshape([5, -1, 7]), { data: a.data, shape: [5, 6, 7] }, dtype, 0, 0, 'reshape view');
    const t = toTensor(a, dtype).transpose(0, 1);  // non-contiguous: reshape copies in logical order
    check(t.reshape([-1]), { data: permuteRef(a, [1, 0]).data, shape: [210] }, dtype, 0, 0, 'reshape strided');
    expect(() => toTensor(a, dtype).reshape([4, -1])).toThrow(RangeError);
  },
  permute(dtype) {
    const a = randomRef([3, 4, 5], 2);
    const p = toTensor(a, dtype).permute([2, 0, 1]);
    check(p, permuteRef(a, [2, 0, 1]), dtype, 0, 0, 'permute');
    check(toTensor(a, dtype).transpose(0, 2), permuteRef(a, [2, 1, 0]), dtype, 0, 0, 'transpose');
  },
  slice(dtype) {
    const a = randomRef([7, 13], 3);
    const s = toTensor(a, dtype).slice(1, 2, 11, 3);
    const ref: number[] = [];
    for (let i = 0; i < 7; i++) for (let j = 2; j < 11; j += 3) ref.push(a.data[i * 13 + j]);
    check(s, { data: Float64Array.from(ref), shape: [7, 3] }, dtype, 0, 0, 'slice');
    const neg = toTensor(a, dtype).slice(0, -3);
    check(neg, { data: a.data.slice(4 * 13), shape: [3, 13] }, dtype, 0, 0, 'slice negative');
  },
  contiguous(dtype) {
    const a = randomRef([5, 9, 3], 4);
    const v = toTensor(a, dtype).permute([1, 2, 0]);
    expect(v.isContiguous()).toBe(false);
    const c = v.contiguous();
    expect(c.isContiguous()).toBe(true);
    check(c, permuteRef(a, [1, 2, 0]), dtype, 0, 0, 'contiguous');
  },
  concat(dtype) {
    const parts = [randomRef([3, 2, 5], 5), randomRef([3, 7, 5], 6), randomRef([3, 1, 5], 7)];
    const out = qkv.concat(parts.map((p) => toTensor(p, dtype)), 1);
    const ref: number[] = [];
    for (let i = 0; i < 3; i++)
      for (const p of parts) ref.push(...p.data.subarray(i * p.shape[1] * 5, (i + 1) * p.shape[1] * 5));
    check(out, { data: Float64Array.from(ref), shape: [3, 10, 5] }, dtype, 0, 0, 'concat');
    expect(() => qkv.concat([toTensor(parts[0], dtype), toTensor(parts[1], dtype)], 0)).toThrow(/concat.*\[3, 7, 5\]/);
  },
  matmul(dtype) {
    const sizes = [1, 2, 3, 7, 17, 33, 65];
    let seed = 100;
    for (const M of sizes)
      for (const K of [1, 5, 31, 64])
        for (const N of [1, 13, 40]) {
          if ((M * 7 + K * 3 + N) % 3 !== 0 && M > 3) continue;  // a spread of combinations, not all
          const a = randomRef([M, K], seed++), b = randomRef([K, N], seed++);
          check(qkv.matmul(toTensor(a, dtype), toTensor(b, dtype)), matmulRef(a, b), dtype, 1e-5, 1e-5, `matmul ${M}x${K}x${N}`);
        }
    // transposed operands read as views (NT, TN, TT)
    const a = randomRef([37, 29], 1), b = randomRef([41, 29], 2), c = randomRef([29, 37], 3);
    const bt = permuteRef(b, [1, 0]), ct = permuteRef(c, [1, 0]);
    check(qkv.matmul(toTensor(a, dtype), toTensor(b, dtype).transpose()), matmulRef(a, bt), dtype, 1e-5, 1e-5, 'matmul NT');
    check(qkv.matmul(toTensor(c, dtype).transpose(), toTensor(a.shape[0] === 37 ? randomRef([29, 41], 4) : a, dtype)),
      matmulRef(ct, randomRef([29, 41], 4)), dtype, 1e-5, 1e-5, 'matmul TN');
    check(qkv.matmul(toTensor(c, dtype).transpose(), toTensor(b, dtype).transpose()), matmulRef(ct, bt), dtype, 1e-5, 1e-5, 'matmul TT');
    // batched with broadcast batch dims
    const x = randomRef([2, 1, 5, 6], 8), y = randomRef([3, 6, 4], 9);
    check(qkv.matmul(toTensor(x, dtype), toTensor(y, dtype)), matmulRef(x, y), dtype, 1e-5, 1e-5, 'matmul batched');
    // large enough for the blocked, threaded path, with awkward sizes
    const p = randomRef([257, 300], 10), q = randomRef([300, 129], 11);
    check(qkv.matmul(toTensor(p, dtype), toTensor(q, dtype)), matmulRef(p, q), dtype, 1e-4, 1e-4, 'matmul 257x300x129');
    // 1-D operands
    const v = randomRef([6], 12), m = randomRef([6, 4], 13);
    check(qkv.matmul(toTensor(v, dtype), toTensor(m, dtype)), { data: matmulRef({ data: v.data, shape: [1, 6] }, m).data, shape: [4] }, dtype, 1e-5, 1e-5, 'vec x mat');
    check(qkv.matmul(toTensor(v, dtype), toTensor(v, dtype)), { data: Float64Array.of(v.data.reduce((s, z) => s + z * z, 0)), shape: [] }, dtype, 1e-5, 1e-5, 'dot');
    // K = 0 gives zeros
    check(qkv.matmul(qkv.zeros([3, 0], { dtype }), qkv.zeros([0, 2], { dtype })), { data: new Float64Array(6), shape: [3, 2] }, dtype, 0, 0, 'K=0');
  },
  ...Object.fromEntries(
    (
      [
        ['add', (x: number, y: number) => x + y],
        ['sub', (x: number, y: number) => x - y],
        ['mul', (x: number, y: number) => x * y],
        ['div', (x: number, y: number) => x / y],
        ['maximum', (x: number, y: number) => Math.max(x, y)],
        ['minimum', (x: number, y: number) => Math.min(x, y)],
        ['pow', (x: number, y: number) => Math.pow(x, y)],
      ] as const
    ).map(([name, f]) => [
      name,
      (dtype: FloatDType) => {
        const op = (qkv as unknown as Record<string, (a: qkv.Tensor | number, b: qkv.Tensor | number) => qkv.Tensor>)[name];
        const pos = (r: Ref) => (name === 'pow' ? mapRef(r, (v) => Math.abs(v) + 0.5) : r);
        const shapes: [number[], number[]][] = [
          [[7, 13], [7, 13]],
          [[5, 1, 33], [4, 33]],
          [[3, 1], [1, 17]],
          [[129, 1031], [1031]],   // big enough for the threaded path
          [[1], [6, 5]],
          [[], [3, 2]],
        ];
        let seed = 30;
        for (const [sa, sb] of shapes) {
          const a = pos(randomRef(sa, seed++)), b = name === 'div' ? mapRef(randomRef(sb, seed++), (v) => v + Math.sign(v) * 0.5) : randomRef(sb, seed++);
          check(op(toTensor(a, dtype), toTensor(b, dtype)), binaryRef(a, b, f), dtype, 2e-6, 1e-6, `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`);
        }
        // strided (transposed) operands and a number operand
        const a = pos(randomRef([9, 11], 50)), b = randomRef([11, 9], 51);
        check(op(toTensor(a, dtype), toTensor(b, dtype).transpose()), binaryRef(a, permuteRef(b, [1, 0]), f), dtype, 2e-6, 1e-6, `${name} strided`);
        check(op(toTensor(a, dtype), 1.5), binaryRef(a, { data: Float64Array.of(1.5), shape: [] }, f), dtype, 2e-6, 1e-6, `${name} scalar`);
        check(op(2.5, toTensor(a, dtype)), binaryRef({ data: Float64Array.of(2.5), shape: [] }, a, f), dtype, 2e-6, 1e-6, `${name} scalar first`);
      },
    ]),
  ),
  ...Object.fromEntries(
    (
      [
        ['neg', (x: number) => -x, 1, 2e-7],
        ['exp', Math.exp, 4, 2e-7],
        ['log', Math.log, 1, 2e-7],
        ['sqrt', Math.sqrt, 1, 2e-7],
        ['tanh', Math.tanh, 3, 2e-7],
        ['abs', Math.abs, 1, 0],
        ['relu', (x: number) => Math.max(x, 0), 1, 0],
        ['gelu', gelu, 3, 2e-7],
        ['geluTanh', geluTanh, 3, 2e-7],
        ['sigmoid', (x: number) => 1 / (1 + Math.exp(-x)), 3, 2e-7],
        ['quickGelu', (x: number) => x / (1 + Math.exp(-1.702 * x)), 3, 2e-7],
      ] as const
    ).map(([name, f, scale, atol]) => [
      name,
      (dtype: FloatDType) => {
        for (const [shape, seed] of [[[3, 7, 11], 60], [[70001], 61], [[1], 62]] as [number[], number][]) {
          let a = randomRef(shape, seed, scale);
          if (name === 'log' || name === 'sqrt') a = mapRef(a, (v) => Math.abs(v) + 1e-3);
          const t = name === 'gelu' ? qkv.gelu(toTensor(a, dtype)) : name === 'geluTanh' ? qkv.gelu(toTensor(a, dtype), { approximate: 'tanh' })
            : (qkv as unknown as Record<string, (x: qkv.Tensor) => qkv.Tensor>)[name](toTensor(a, dtype));
          check(t, mapRef(a, f), dtype, 2e-6, atol, `${name} ${JSON.stringify(shape)}`);
        }
        if (name === 'exp') {
          const ex = { data: Float64Array.of(-1000, -87, -20, 0, 20, 88, 1000), shape: [7] };
          check(qkv.exp(toTensor(ex, dtype)), mapRef(ex, Math.exp), dtype, 2e-6, 1e-37, 'exp extremes');
        }
        if (name === 'tanh') {
          const ex = { data: Float64Array.of(-30, -5, -0.6, -1e-4, 0, 1e-6, 0.3, 0.7, 9.5, 30), shape: [10] };
          check(qkv.tanh(toTensor(ex, dtype)), mapRef(ex, Math.tanh), dtype, 2e-6, 1e-7, 'tanh extremes');
        }
      },
    ]),
  ),
  equal(dtype) {
    const a = randomRef([4, 7], 75), b = mapRef(a, (v, i) => (i % 3 === 0 ? v : v + 1));
    check(qkv.equal(toTensor(a, dtype), toTensor(b, dtype)), binaryRef(a, b, (x, y) => (x === y ? 1 : 0)), dtype, 0, 0, 'equal');
    const row = { data: a.data.subarray(0, 7), shape: [7] };
    check(qkv.equal(toTensor(a, dtype), toTensor(row, dtype)), binaryRef(a, row, (x, y) => (x === y ? 1 : 0)), dtype, 0, 0, 'equal broadcast');
    expect(qkv.equal(toTensor(a, dtype), toTensor(b, dtype)).requiresGrad).toBe(false);
  },
  linear(dtype) {
    for (const [N, I, O] of [[1, 1, 1], [7, 13, 5], [33, 70, 129]]) {
      const x = randomRef([N, I], N + 200), w = randomRef([O, I], O + 201), b = randomRef([O], I + 202);
      const ref = matmulRef(x, permuteRef(w, [1, 0]));
      check(qkv.linear(toTensor(x, dtype), toTensor(w, dtype)), ref, dtype, 1e-5, 1e-5, `linear ${N}x${I}x${O} no bias`);
      check(qkv.linear(toTensor(x, dtype), toTensor(w, dtype), toTensor(b, dtype)), binaryRef(ref, b, (p, q) => p + q), dtype, 1e-5, 1e-5, `linear ${N}x${I}x${O}`);
    }
    expect(() => qkv.linear(toTensor(randomRef([2, 3], 1), dtype), toTensor(randomRef([4, 5], 2), dtype))).toThrow(/linear: expected x \[N, in\]/);
  },
  dropout(dtype) {
    // The law: kept elements scaled by 1/(1-p), about p dropped; the same seed, the same mask;
    // the residual form adds x; p = 0 is the identity.
    const n = 20000, p = 0.3;
    const y = mapRef(randomRef([n], 210), (v) => Math.abs(v) + 0.1), x = randomRef([n], 211);
    const out = Array.from(qkv.dropout(toTensor(y, dtype), p, { seed: 5 }).toTypedArray());
    let dropped = 0;
    out.forEach((v, i) => {
      if (v === 0) dropped++;
      else expect(Math.abs(v - y.data[i] / (1 - p))).toBeLessThan(1e-5 * Math.abs(v));
    });
    expect(dropped / n).toBeGreaterThan(p - 0.02);
    expect(dropped / n).toBeLessThan(p + 0.02);
    expect(Array.from(qkv.dropout(toTensor(y, dtype), p, { seed: 5 }).toTypedArray())).toEqual(out);
    expect(Array.from(qkv.dropout(toTensor(y, dtype), p, { seed: 6 }).toTypedArray())).not.toEqual(out);
    const res = qkv.dropout(toTensor(y, dtype), p, { seed: 5, residual: toTensor(x, dtype) }).toTypedArray();
    check(qkv.Tensor.from(res, [n]), { data: Float64Array.from(out, (v, i) => v + x.data[i]), shape: [n] }, dtype, 1e-6, 1e-6, 'dropout residual');
    expect(Array.from(qkv.dropout(toTensor(y, dtype), 0).toTypedArray())).toEqual(Array.from(toTensor(y, dtype).toTypedArray()));
    expect(() => qkv.dropout(toTensor(y, dtype), 1)).toThrow(RangeError);
  },
  indexSelect(dtype) {
    const a = randomRef([6, 3, 4], 220);
    const idx = [5, 0, 5, 2];
    const ref = new Float64Array(idx.length * 12);
    idx.forEach((r, i) => ref.set(a.data.subarray(r * 12, r * 12 + 12), i * 12));
    check(qkv.indexSelect(toTensor(a, dtype), idx), { data: ref, shape: [4, 3, 4] }, dtype, 0, 0, 'indexSelect');
    expect(() => qkv.indexSelect(toTensor(a, dtype), [6])).toThrow(/indexSelect: index 6 .* 6 rows/);
  },
  sum(dtype) {
    const a = randomRef([4, 5, 6], 70);
    const s = (v: number[]) => v.reduce((p, q) => p + q, 0);
    for (const axes of [[], [0], [-1], [1], [0, 2]])
      for (const keepdims of [false, true])
        check(qkv.sum(toTensor(a, dtype), axes, { keepdims }), reduceRef(a, axes, s, keepdims), dtype, 1e-5, 1e-5, `sum ${axes} ${keepdims}`);
    const big = randomRef([3, 100003], 71);
    check(qkv.sum(toTensor(big, dtype), 1), reduceRef(big, [1], s), dtype, 1e-5, 1e-3, 'sum long rows');
  },
  mean(dtype) {
    const a = randomRef([4, 5, 6], 72);
    const m = (v: number[]) => v.reduce((p, q) => p + q, 0) / v.length;
    for (const axes of [[], [0], [-1], [0, 2]])
      check(qkv.mean(toTensor(a, dtype), axes), reduceRef(a, axes, m), dtype, 1e-5, 1e-6, `mean ${axes}`);
  },
  max(dtype) {
    const a = randomRef([4, 5, 6], 73);
    const mx = (v: number[]) => Math.max(...v);
    for (const axes of [[], [0], [-1], [1, 2]])
      check(qkv.max(toTensor(a, dtype), axes, { keepdims: true }), reduceRef(a, axes, mx, true), dtype, 0, 0, `max ${axes}`);
  },
  argmax(dtype) {
    const a = randomRef([4, 5, 6], 74);
    for (const axis of [0, 1, -1]) {
      const got = qkv.argmax(toTensor(a, dtype), axis);
      expect(got.dtype).toBe('int32');
      const ref = reduceRef(a, [axis], (v) => v.indexOf(Math.max(...v)));
      expect(Array.from(got.toTypedArray())).toEqual(Array.from(ref.data));
    }
  },
  softmax(dtype) {
    for (const [shape, seed, scale] of [[[3, 7], 80, 1], [[2, 5, 1029], 81, 3], [[4, 9], 82, 300]] as [number[], number, number][]) {
      const a = randomRef(shape, seed, scale);
      check(qkv.softmax(toTensor(a, dtype)), rowsRef(a, softmaxRow), dtype, 1e-5, 1e-7, `softmax ${shape}`);
    }
  },
  logSoftmax(dtype) {
    for (const [shape, seed, scale] of [[[3, 7], 83, 1], [[2, 1029], 84, 3], [[4, 9], 85, 300]] as [number[], number, number][]) {
      const a = randomRef(shape, seed, scale);
      check(qkv.logSoftmax(toTensor(a, dtype)), rowsRef(a, logSoftmaxRow), dtype, 1e-5, 1e-5, `logSoftmax ${shape}`);
    }
  },
  layerNorm(dtype) {
    const x = randomRef([3, 4, 37], 90, 2), g = randomRef([37], 91), b = randomRef([37], 92);
    const ln = (row: number[], withAffine: boolean) => {
      const m = row.reduce((p, q) => p + q, 0) / row.length;
      const v = row.reduce((p, q) => p + (q - m) ** 2, 0) / row.length;
      return row.map((q, j) => ((q - m) / Math.sqrt(v + 1e-5)) * (withAffine ? g.data[j] : 1) + (withAffine ? b.data[j] : 0));
    };
    check(qkv.layerNorm(toTensor(x, dtype), toTensor(g, dtype), toTensor(b, dtype)), rowsRef(x, (r) => ln(r, true)), dtype, 1e-5, 1e-5, 'layerNorm');
    check(qkv.layerNorm(toTensor(x, dtype), null, null), rowsRef(x, (r) => ln(r, false)), dtype, 1e-5, 1e-5, 'layerNorm plain');
    expect(() => qkv.layerNorm(toTensor(x, dtype), toTensor(randomRef([36], 1), dtype), null)).toThrow(/layerNorm: gamma must have shape \[37\]/);
  },
  embedding(dtype) {
    const w = randomRef([11, 7], 95);
    const ids = [3, 0, 10, 3, 5, 9];
    const out = qkv.embedding(toTensor(w, dtype), qkv.Tensor.from(Int32Array.from(ids), [2, 3]));
    const ref = new Float64Array(ids.length * 7);
    ids.forEach((id, i) => ref.set(w.data.subarray(id * 7, id * 7 + 7), i * 7));
    check(out, { data: ref, shape: [2, 3, 7] }, dtype, 0, 0, 'embedding');
    expect(() => qkv.embedding(toTensor(w, dtype), qkv.Tensor.from(Int32Array.of(11), [1]))).toThrow(/embedding: index 11 .* \[11, 7\]/);
  },
  scaledDotProductAttention(dtype) {
    // Thorough checks live in test/attention.test.ts; here: the tiled kernel on this SIMD level.
    const [q, k, v] = [randomRef([1, 2, 70, 8], 101), randomRef([1, 2, 140, 8], 102), randomRef([1, 2, 140, 5], 103)];
    const got = qkv.scaledDotProductAttention(toTensor(q, dtype), toTensor(k, dtype), toTensor(v, dtype), { causal: true });
    const ref = attentionRef(q.data, k.data, v.data, [1, 2, 70, 140, 8, 5], { causal: true });
    check(got, { data: ref, shape: [1, 2, 70, 5] }, dtype, 2e-5, 2e-5, 'attention');
  },
  infoNCE(dtype) {
    // Thorough checks live in test/infonce.test.ts; here: the tiled kernels on this SIMD level,
    // 600 rows: two blocks of 576 rows and of 576 columns.
    const N = 600, D = 9;
    const img = randomRef([N, D], 104), txt = randomRef([N, D], 105);
    const t = Math.log(1 / 0.07);
    const clip = qkv.infoNCE(toTensor(img, dtype), toTensor(txt, dtype), qkv.Tensor.from([t], [], { dtype }));
    check(clip, { data: Float64Array.of(infoNCERef(img.data, txt.data, N, D, t)), shape: [] }, dtype, 2e-5, 2e-6, 'infoNCE clip');
    const sig = qkv.infoNCE(toTensor(img, dtype), toTensor(txt, dtype), qkv.Tensor.from([Math.log(10)], [], { dtype }),
      { loss: 'siglip', bias: qkv.Tensor.from([-10], [], { dtype }) });
    check(sig, { data: Float64Array.of(infoNCERef(img.data, txt.data, N, D, Math.log(10), { loss: 'siglip', bias: -10 })), shape: [] }, dtype, 2e-5, 2e-6, 'infoNCE siglip');
  },
  crossEntropy(dtype) {
    const N = 9, C = 23;
    const logits = randomRef([N, C], 96, 2);
    const r = rng(97);
    const targets = Array.from({ length: N }, (_, i) => (i % 4 === 3 ? -100 : r.int(C)));
    for (const smoothing of [0, 0.1]) {
      let total = 0, count = 0;
      for (let i = 0; i < N; i++) {
        if (targets[i] === -100) continue;
        const row = Array.from(logits.data.subarray(i * C, (i + 1) * C));
        const lp = logSoftmaxRow(row);
        total += -(1 - smoothing) * lp[targets[i]] - (smoothing / C) * lp.reduce((p, q) => p + q, 0);
        count++;
      }
      const got = qkv.crossEntropy(toTensor(logits, dtype), qkv.Tensor.from(Int32Array.from(targets)), { labelSmoothing: smoothing });
      check(got, { data: Float64Array.of(total / count), shape: [] }, dtype, 1e-5, 1e-6, `crossEntropy smoothing ${smoothing}`);
    }
    expect(() => qkv.crossEntropy(toTensor(logits, dtype), qkv.Tensor.from(Int32Array.from(targets.map(() => 23))))).toThrow(RangeError);
  },
  // ---- images
  conv2d(dtype) {
    const configs: [number[], number[], boolean, qkv.Conv2dOptions][] = [
      [[2, 4, 7, 5], [6, 2, 3, 3], true, { stride: [2, 1], padding: [1, 2], dilation: [2, 1], groups: 2 }],
      [[1, 3, 9, 8], [5, 3, 2, 3], false, {}],
      [[3, 6, 6, 7], [6, 1, 3, 3], true, { stride: 2, padding: 1, groups: 6 }],  // depthwise
      [[2, 5, 4, 3], [7, 5, 1, 1], true, {}],  // 1x1: the input is its own column matrix
      [[5, 3, 13, 11], [4, 3, 5, 3], true, { stride: [3, 2], padding: [2, 0], dilation: [1, 3] }],
    ];
    let seed = 300;
    for (const [xs, ws, withBias, o] of configs) {
      const x = randomRef(xs, seed++), w = randomRef(ws, seed++), b = withBias ? randomRef([ws[0]], seed++) : null;
      const pair = (v: number | readonly number[] | undefined, d: number) => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [...v]) as [number, number];
      const ref = conv2dRef(x, w, b, { stride: pair(o.stride, 1), padding: pair(o.padding, 0), dilation: pair(o.dilation, 1), groups: o.groups });
      const got = qkv.conv2d(toTensor(x, dtype), toTensor(w, dtype), b && toTensor(b, dtype), o);
      check(got, ref, dtype, 1e-5, 1e-5, `conv2d ${xs} * ${ws} ${JSON.stringify(o)}`);
    }
    // a strided (transposed) view as the input
    const x = randomRef([2, 3, 5, 6], 320), w = randomRef([4, 3, 3, 3], 321);
    const xt = toTensor(x, dtype).transpose(2, 3);
    check(qkv.conv2d(xt, toTensor(w, dtype), null, { padding: 1 }), conv2dRef(permuteRef(x, [0, 1, 3, 2]), w, null, { padding: [1, 1] }), dtype, 1e-5, 1e-5, 'conv2d strided input');
  },
  maxPool2d(dtype) {
    const x = randomRef([2, 3, 7, 5], 330);
    check(qkv.maxPool2d(toTensor(x, dtype), 3, { stride: 2, padding: 1 }), maxPool2dRef(x, [3, 3], [2, 2], [1, 1]), dtype, 0, 0, 'maxPool2d 3/2/1');
    check(qkv.maxPool2d(toTensor(x, dtype), 2), maxPool2dRef(x, [2, 2], [2, 2]), dtype, 0, 0, 'maxPool2d 2 (stride = kernel)');
    check(qkv.maxPool2d(toTensor(x, dtype), [2, 3], { stride: [1, 2], padding: [1, 1], dilation: [2, 1] }), maxPool2dRef(x, [2, 3], [1, 2], [1, 1], [2, 1]), dtype, 0, 0, 'maxPool2d dilated');
  },
  avgPool2d(dtype) {
    const x = randomRef([2, 3, 7, 5], 331);
    for (const countIncludePad of [true, false]) {
      check(qkv.avgPool2d(toTensor(x, dtype), 3, { stride: 2, padding: 1, countIncludePad }), avgPool2dRef(x, [3, 3], [2, 2], [1, 1], countIncludePad), dtype, 1e-6, 1e-7, `avgPool2d 3/2/1 ${countIncludePad}`);
      check(qkv.avgPool2d(toTensor(x, dtype), [3, 2], { stride: [2, 1], padding: [1, 1], countIncludePad }), avgPool2dRef(x, [3, 2], [2, 1], [1, 1], countIncludePad), dtype, 1e-6, 1e-7, `avgPool2d 3x2 ${countIncludePad}`);
    }
    check(qkv.avgPool2d(toTensor(x, dtype), 2), avgPool2dRef(x, [2, 2], [2, 2]), dtype, 1e-6, 1e-7, 'avgPool2d 2 (stride = kernel)');
  },
  adaptiveAvgPool2d(dtype) {
    const x = randomRef([2, 3, 7, 5], 332);
    for (const size of [[3, 2], [1, 1], [7, 5], [9, 4]] as [number, number][])
      check(qkv.adaptiveAvgPool2d(toTensor(x, dtype), size), adaptiveAvgPool2dRef(x, size), dtype, 1e-6, 1e-7, `adaptiveAvgPool2d ${size}`);
    check(qkv.adaptiveAvgPool2d(toTensor(x, dtype), 2), adaptiveAvgPool2dRef(x, [2, 2]), dtype, 1e-6, 1e-7, 'adaptiveAvgPool2d 2');
  },
  // ---- normalisation
  batchNorm(dtype) {
    // NCHW with odd H x W, N = 1 with positions, and [N, C]; a training step, then evaluation with
    // the updated running statistics; a strided input.
    for (const [shape, seed] of [[[2, 3, 5, 7], 110], [[1, 3, 3, 5], 111], [[9, 4], 112]] as [number[], number][]) {
      const C = shape[1];
      const x = randomRef(shape, seed, 2), gamma = Array.from(randomRef([C], seed + 1).data), beta = Array.from(randomRef([C], seed + 2).data);
      const vec = (v: number[]) => toTensor({ data: Float64Array.from(v), shape: [C] }, dtype);
      let stats = { runningMean: Array.from(randomRef([C], seed + 3).data), runningVar: Array.from(randomRef([C], seed + 4).data, (v) => Math.abs(v) + 0.5) };
      const rm = vec(stats.runningMean), rv = vec(stats.runningVar);
      for (const training of [true, false]) {
        const what = `batchNorm ${shape} ${training ? 'training' : 'evaluation'}`;
        const ref = batchNormRef(x, { gamma, beta, ...stats, training, momentum: 0.25, eps: 1e-5 });
        check(qkv.batchNorm(toTensor(x, dtype), rm, rv, vec(gamma), vec(beta), { training, momentum: 0.25 }), ref.out, dtype, 1e-5, 1e-5, what);
        check(rm, { data: Float64Array.from(ref.runningMean), shape: [C] }, dtype, 1e-6, 1e-6, `${what} running mean`);
        check(rv, { data: Float64Array.from(ref.runningVar), shape: [C] }, dtype, 1e-6, 1e-6, `${what} running var`);
        stats = { runningMean: ref.runningMean, runningVar: ref.runningVar };
      }
      const reversed = shape.map((_, i) => shape.length - 1 - i);
      const view = toTensor(permuteRef(x, reversed), dtype).permute(reversed);  // x again, as a transposed view
      const plain = batchNormRef(x, { ...stats, training: true, momentum: 0.1, eps: 1e-3 });
      check(qkv.batchNorm(view, null, null, null, null, { training: true, eps: 1e-3 }), plain.out, dtype, 1e-5, 1e-5, `batchNorm ${shape} strided`);
    }
  },
  groupNorm(dtype) {
    for (const [shape, groups, seed] of [[[2, 6, 3, 5], 3, 120], [[1, 3, 5, 3], 1, 121], [[2, 3, 7], 3, 122], [[3, 4], 2, 123]] as [number[], number, number][]) {
      const C = shape[1];
      const x = randomRef(shape, seed, 3), gamma = Array.from(randomRef([C], seed + 1).data), beta = Array.from(randomRef([C], seed + 2).data);
      const vec = (v: number[]) => toTensor({ data: Float64Array.from(v), shape: [C] }, dtype);
      check(qkv.groupNorm(toTensor(x, dtype), groups, vec(gamma), vec(beta)), groupNormRef(x, groups, { gamma, beta, eps: 1e-5 }), dtype, 1e-5, 1e-5,
        `groupNorm ${shape} / ${groups}`);
      check(qkv.groupNorm(toTensor(x, dtype), groups, null, null, { eps: 0.1 }), groupNormRef(x, groups, { eps: 0.1 }), dtype, 1e-5, 1e-5,
        `groupNorm ${shape} / ${groups} plain`);
    }
  },
};

const levels = qkv.simd.available();
const initial = qkv.simd.level();
afterAll(() => qkv.simd.use(initial));

describe('the op registry', () => {
  it('has a reference test for every op', () => {
    const names = qkv.opRegistry().map((o) => o.name);
    expect(names.length).toBeGreaterThan(25);
    const missing = names.filter((n) => !(n in cases));
    expect(missing, 'ops without a reference test').toEqual([]);
  });
});

for (const level of levels) {
  describe(`ops on the ${level} path`, () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [name, run] of Object.entries(cases)) {
        it(`${name} (${dtype})`, () => {
          qkv.simd.use(level);
          expect(qkv.simd.level()).toBe(level);
          run(dtype);
        });
      }
    }
  });
}

it('lists the SIMD levels this processor runs, and says which it skips', () => {
  expect(levels[0]).toBe('scalar');
  if (!levels.includes('avx512')) console.log(`note: avx512 kernels are compiled but not run: this processor's best is ${qkv.simd.supported()}`);
  expect(numel([2, 3])).toBe(6);
});
