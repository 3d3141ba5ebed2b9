// Independent float64 reference implementations (plain loops over flat arrays) and test utilities.
// Nothing here calls qkv: the reference values must not share code with what they check.
import { expect } from 'vitest';

export interface Ref {
  data: Float64Array;
  shape: number[];
}

/** A small seeded generator (mulberry32 + Box-Muller), unrelated to the core's. */
export function rng(seed: number): { uniform(): number; normal(): number; int(n: number): number } {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    uniform,
    normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()),
    int: (n: number) => Math.floor(uniform() * n),
  };
}

export const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function randomRef(shape: number[], seed: number, scale = 1): Ref {
  const r = rng(seed);
  const data = new Float64Array(numel(shape));
  // Rounded to float32 so that the same values are exact in both dtypes under test.
  for (let i = 0; i < data.length; i++) data[i] = Math.fround(r.normal() * scale);
  return { data, shape };
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[i - (n - a.length)] ?? 1, db = b[i - (n - b.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error('not broadcastable');
    out.push(da === 1 ? db : da);
  }
  return out;
}

export function binaryRef(a: Ref, b: Ref, f: (x: number, y: number) => number): Ref {
  const shape = broadcastShape(a.shape, b.shape);
  const out = new Float64Array(numel(shape));
  const sa = strides(a.shape), sb = strides(b.shape);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    let oa = 0, ob = 0;
    for (let d = 0; d < shape.length; d++) {
      const da = d - (shape.length - a.shape.length), db = d - (shape.length - b.shape.length);
      if (da >= 0 && a.shape[da] !== 1) oa += idx[d] * sa[da];
      if (db >= 0 && b.shape[db] !== 1) ob += idx[d] * sb[db];
    }
    out[i] = f(a.data[oa], b.data[ob]);
  }
  return { data: out, shape };
}

export function mapRef(a: Ref, f: (x: number, i: number) => number): Ref {
  return { data: a.data.map(f), shape: [...a.shape] };
}

export function permuteRef(a: Ref, dims: number[]): Ref {
  const shape = dims.map((d) => a.shape[d]);
  const sa = strides(a.shape);
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    let off = 0;
    for (let d = 0; d < dims.length; d++) off += idx[d] * sa[dims[d]];
    out[i] = a.data[off];
  }
  return { data: out, shape };
}

/** Reduction over `axes` with `f(values) → number`. */
export function reduceRef(a: Ref, axes: number[], f: (v: number[]) => number, keepdims = false): Ref {
  const nd = a.shape.length;
  const red = axes.length ? axes.map((x) => (x < 0 ? x + nd : x)) : a.shape.map((_, i) => i);
  const keep = a.shape.map((_, i) => i).filter((i) => !red.includes(i));
  const outShape = keep.map((i) => a.shape[i]);
  const groups = new Map<number, number[]>();
  const sa = strides(a.shape);
  const so = strides(outShape);
  for (let i = 0; i < a.data.length; i++) {
    const idx = unravel(i, a.shape);
    let o = 0;
    keep.forEach((d, k) => (o += idx[d] * so[k]));
    if (!groups.has(o)) groups.set(o, []);
    groups.get(o)!.push(a.data[i]);
    void sa;
  }
  const out = new Float64Array(numel(outShape));
  for (let o = 0; o < out.length; o++) out[o] = f(groups.get(o) ?? []);
  const shape = keepdims ? a.shape.map((s, i) => (red.includes(i) ? 1 : s)) : outShape;
  return { data: out, shape };
}

export function matmulRef(a: Ref, b: Ref): Ref {
  // a [..., M, K], b [..., K, N], batch broadcast
  const M = a.shape[a.shape.length - 2], K = a.shape[a.shape.length - 1], N = b.shape[b.shape.length - 1];
  const ba = a.shape.slice(0, -2), bb = b.shape.slice(0, -2);
  const batch = broadcastShape(ba, bb);
  const out = new Float64Array(numel(batch) * M * N);
  for (let bi = 0; bi < numel(batch); bi++) {
    const idx = unravel(bi, batch);
    const off = (shape: number[]) => {
      let o = 0, s = 1;
      for (let d = shape.length - 1; d >= 0; d--) {
        const id = idx[d + (batch.length - shape.length)];
        if (shape[d] !== 1) o += id * s;
        s *= shape[d];
      }
      return o;
    };
    const oa = off(ba) * M * K, ob = off(bb) * K * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[oa + i * K + k] * b.data[ob + k * N + j];
        out[bi * M * N + i * N + j] = s;
      }
  }
  return { data: out, shape: [...batch, M, N] };
}

export function rowsRef(a: Ref, f: (row: number[]) => number[]): Ref {
  const C = a.shape[a.shape.length - 1];
  const out = new Float64Array(a.data.length);
  for (let r = 0; r < a.data.length / C; r++) out.set(f(Array.from(a.data.subarray(r * C, (r + 1) * C))), r * C);
  return { data: out, shape: [...a.shape] };
}

export function softmaxRow(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((x) => Math.exp(x - m));
  const s = e.reduce((p, q) => p + q, 0);
  return e.map((x) => x / s);
}

export function logSoftmaxRow(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((p, q) => p + Math.exp(q - m), 0));
  return row.map((x) => x - lse);
}

export function erf(x: number): number {
  // Series/continued-fraction erf to ~1e-15 (independent of the core's approximation).
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = ax, term = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

/** Elementwise |actual - expected| <= atol + rtol * |expected|, reporting the worst index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i], a = actual[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (e === a) continue;  // covers equal infinities
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0)
    expect.fail(`${what}: index ${worst}: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
}
