// Gradient checks: for every differentiable op of the registry, the analytic gradient of
// sum(op(inputs) * R) (R a fixed random tensor) against central finite differences in float64.
// An op of the registry without a case here fails the first test.
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { expectClose, randomRef, rng } from './helpers/reference';

interface Input {
  data: Float64Array;
  shape: number[];
  grad?: boolean;  // default true
}
const inp = (shape: number[], seed: number, f?: (v: number) => number): Input => {
  const r = randomRef(shape, seed);
  return { data: f ? r.data.map(f) : r.data, shape };
};
const int32 = (v: number[]) => qkv.Tensor.from(Int32Array.from(v));

function gradcheck(inputs: Input[], fn: (...ts: qkv.Tensor[]) => qkv.Tensor, what: string): void {
  const make = (datas: Float64Array[], grad: boolean) =>
    inputs.map((x, i) => qkv.Tensor.from(datas[i], x.shape, { requiresGrad: grad && x.grad !== false }));
  const base = inputs.map((x) => x.data);
  const out0 = qkv.noGrad(() => fn(...make(base, false)));
  const R = qkv.Tensor.from(randomRef(out0.shape, 999).data, out0.shape);
  const loss = (ts: qkv.Tensor[]) => qkv.sum(qkv.mul(fn(...ts), R));

  const ts = make(base, true);
  loss(ts).backward();
  const h = 1e-6;
  inputs.forEach((x, i) => {
    if (x.grad === false) return;
    const analytic = ts[i].grad;
    expect(analytic, `${what}: input ${i} got no gradient`).not.toBeNull();
    const numeric = new Float64Array(x.data.length);
    for (let j = 0; j < x.data.length; j++) {
      const plus = base.map((d) => d.slice()), minus = base.map((d) => d.slice());
      plus[i][j] += h;
      minus[i][j] -= h;
      const lp = qkv.noGrad(() => loss(make(plus, false)).item());
      const lm = qkv.noGrad(() => loss(make(minus, false)).item());
      numeric[j] = (lp - lm) / (2 * h);
    }
    expect(analytic!.shape).toEqual(x.shape);
    expectClose(analytic!.toTypedArray(), numeric, 1e-5, 1e-6, `${what}: d/d input ${i}`);
  });
}

const away = (v: number) => (Math.abs(v) < 0.1 ? v + 0.3 * Math.sign(v || 1) : v);  // keep kinks out of reach of h
const positive = (v: number) => Math.abs(v) + 0.5;

const cases: Record<string, () => void> = {
  reshape: () => gradcheck([inp([3, 4], 1)], (x) => x.reshape([2, 6]), 'reshape'),
  permute: () => gradcheck([inp([2, 3, 4], 2)], (x) => x.permute([2, 0, 1]), 'permute'),
  slice: () => gradcheck([inp([5, 6], 3)], (x) => x.slice(1, 1, 6, 2).slice(0, -3), 'slice'),
  contiguous: () => gradcheck([inp([3, 4], 4)], (x) => x.transpose().contiguous(), 'contiguous'),
  concat: () => gradcheck([inp([2, 3], 5), inp([2, 2], 6)], (a, b) => qkv.concat([a, b], 1), 'concat'),
  matmul: () => {
    gradcheck([inp([2, 3, 4], 7), inp([4, 5], 8)], (a, b) => qkv.matmul(a, b), 'matmul batched');
    gradcheck([inp([3, 4], 9), inp([2, 4, 2], 10)], (a, b) => qkv.matmul(a, b), 'matmul broadcast');
    gradcheck([inp([4], 11), inp([4, 3], 12)], (a, b) => qkv.matmul(a, b), 'matmul vector');
    gradcheck([inp([4, 3], 13), inp([5, 3], 14)], (a, b) => qkv.matmul(a, b.transpose()), 'matmul transposed view');
  },
  add: () => gradcheck([inp([3, 1, 4], 15), inp([2, 4], 16)], (a, b) => qkv.add(a, b), 'add'),
  sub: () => gradcheck([inp([3, 1, 4], 17), inp([2, 4], 18)], (a, b) => qkv.sub(a, b), 'sub'),
  mul: () => gradcheck([inp([3, 1, 4], 19), inp([2, 4], 20)], (a, b) => qkv.mul(a, b), 'mul'),
  div: () => gradcheck([inp([3, 1, 4], 21), inp([2, 4], 22, positive)], (a, b) => qkv.div(a, b), 'div'),
  pow: () => gradcheck([inp([3, 4], 23, positive), inp([4], 24)], (a, b) => qkv.pow(a, b), 'pow'),
  maximum: () => gradcheck([inp([3, 4], 25), inp([4], 26)], (a, b) => qkv.maximum(a, b), 'maximum'),
  minimum: () => gradcheck([inp([3, 4], 27), inp([4], 28)], (a, b) => qkv.minimum(a, b), 'minimum'),
  neg: () => gradcheck([inp([7], 29)], (x) => qkv.neg(x), 'neg'),
  exp: () => gradcheck([inp([7], 30)], (x) => qkv.exp(x), 'exp'),
  log: () => gradcheck([inp([7], 31, positive)], (x) => qkv.log(x), 'log'),
  sqrt: () => gradcheck([inp([7], 32, positive)], (x) => qkv.sqrt(x), 'sqrt'),
  tanh: () => gradcheck([inp([7], 33)], (x) => qkv.tanh(x), 'tanh'),
  abs: () => gradcheck([inp([7], 34, away)], (x) => qkv.abs(x), 'abs'),
  relu: () => gradcheck([inp([7], 35, away)], (x) => qkv.relu(x), 'relu'),
  gelu: () => gradcheck([inp([9], 36, (v) => v * 3)], (x) => qkv.gelu(x), 'gelu'),
  geluTanh: () => gradcheck([inp([9], 37, (v) => v * 3)], (x) => qkv.gelu(x, { approximate: 'tanh' }), 'geluTanh'),
  sigmoid: () => gradcheck([inp([9], 55, (v) => v * 3)], (x) => qkv.sigmoid(x), 'sigmoid'),
  quickGelu: () => gradcheck([inp([9], 56, (v) => v * 3)], (x) => qkv.quickGelu(x), 'quickGelu'),
  linear: () => {
    gradcheck([inp([5, 3], 57), inp([4, 3], 58), inp([4], 59)], (x, w, b) => qkv.linear(x, w, b), 'linear');
    gradcheck([inp([2, 3], 60), inp([4, 3], 61)], (x, w) => qkv.linear(x, w), 'linear without bias');
  },
  dropout: () => {
    gradcheck([inp([40], 62)], (x) => qkv.dropout(x, 0.4, { seed: 3 }), 'dropout');
    gradcheck([inp([40], 63), inp([40], 64)], (x, r) => qkv.dropout(x, 0.4, { seed: 3, residual: r }), 'dropout residual');
  },
  indexSelect: () => gradcheck([inp([5, 3], 65)], (x) => qkv.indexSelect(x, [4, 0, 4, 1]), 'indexSelect'),
  infoNCE: () => {
    // Ragged N and D; logScale and bias are scalar inputs with gradients of their own.
    gradcheck([inp([5, 3], 66), inp([5, 3], 67), inp([], 68)], (a, b, t) => qkv.infoNCE(a, b, t), 'infoNCE clip');
    gradcheck([inp([4, 3], 69), inp([4, 3], 70), inp([], 71), inp([], 72)], (a, b, t, bias) => qkv.infoNCE(a, b, t, { loss: 'siglip', bias }), 'infoNCE siglip');
  },
  sum: () => {
    gradcheck([inp([2, 3, 4], 38)], (x) => qkv.sum(x, [0, 2]), 'sum axes');
    gradcheck([inp([2, 3], 39)], (x) => qkv.sum(x, -1, { keepdims: true }), 'sum keepdims');
    gradcheck([inp([2, 3], 40)], (x) => qkv.sum(x), 'sum all');
  },
  mean: () => gradcheck([inp([2, 3, 4], 41)], (x) => qkv.mean(x, [1]), 'mean'),
  max: () => gradcheck([inp([3, 5], 42)], (x) => qkv.max(x, -1), 'max'),
  softmax: () => gradcheck([inp([3, 5], 43)], (x) => qkv.softmax(x), 'softmax'),
  logSoftmax: () => gradcheck([inp([3, 5], 44)], (x) => qkv.logSoftmax(x), 'logSoftmax'),
  layerNorm: () => {
    gradcheck([inp([2, 3, 6], 45), inp([6], 46), inp([6], 47)], (x, g, b) => qkv.layerNorm(x, g, b), 'layerNorm');
    gradcheck([inp([4, 5], 48)], (x) => qkv.layerNorm(x, null, null), 'layerNorm without affine');
  },
  embedding: () => gradcheck([inp([6, 4], 49)], (w) => qkv.embedding(w, int32([5, 0, 5, 2])), 'embedding'),
  scaledDotProductAttention: () =>
    gradcheck([inp([1, 2, 3, 4], 52), inp([1, 2, 5, 4], 53), inp([1, 2, 5, 3], 54)],
      (q, k, v) => qkv.scaledDotProductAttention(q, k, v, { causal: true }), 'attention'),
  crossEntropy: () => {
    const t = [2, 0, -100, 4];
    gradcheck([inp([4, 5], 50)], (x) => qkv.crossEntropy(x, int32(t)), 'crossEntropy');
    gradcheck([inp([4, 5], 51)], (x) => qkv.crossEntropy(x, int32(t), { labelSmoothing: 0.2 }), 'crossEntropy smoothed');
  },
  // ---- images: stride 2, padding, dilation 2, groups 2, odd sizes
  conv2d: () => {
    gradcheck([inp([2, 4, 7, 5], 70), inp([6, 2, 3, 3], 71), inp([6], 72)],
      (x, w, b) => qkv.conv2d(x, w, b, { stride: 2, padding: [1, 2], dilation: [2, 1], groups: 2 }), 'conv2d stride/padding/dilation/groups');
    gradcheck([inp([1, 3, 6, 5], 73), inp([2, 3, 2, 3], 74)], (x, w) => qkv.conv2d(x, w, null, { dilation: 2, padding: 1 }), 'conv2d dilation 2 without bias');
    gradcheck([inp([2, 3, 3, 4], 75), inp([5, 3, 1, 1], 76), inp([5], 77)], (x, w, b) => qkv.conv2d(x, w, b), 'conv2d 1x1');
  },
  maxPool2d: () => {
    // distinct values at least 1e-3 apart, so that h never moves a maximum
    const distinct = (shape: number[], seed: number): Input => {
      const r = rng(seed), n = shape.reduce((a, b) => a * b, 1), perm = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) { const j = r.int(i + 1); [perm[i], perm[j]] = [perm[j], perm[i]]; }
      return { data: Float64Array.from(perm, (v) => v * 1e-2 - 1), shape };
    };
    gradcheck([distinct([2, 3, 7, 5], 78)], (x) => qkv.maxPool2d(x, 3, { stride: 2, padding: 1 }), 'maxPool2d stride 2 padding 1');
    gradcheck([distinct([1, 2, 9, 8], 79)], (x) => qkv.maxPool2d(x, [2, 3], { stride: [1, 2], padding: 1, dilation: [2, 1] }), 'maxPool2d overlapping dilated');
  },
  avgPool2d: () => {
    gradcheck([inp([2, 3, 7, 5], 80)], (x) => qkv.avgPool2d(x, 3, { stride: 2, padding: 1 }), 'avgPool2d count padding');
    gradcheck([inp([2, 3, 7, 5], 81)], (x) => qkv.avgPool2d(x, [3, 2], { stride: [2, 1], padding: 1, countIncludePad: false }), 'avgPool2d without padding');
  },
  adaptiveAvgPool2d: () => {
    gradcheck([inp([2, 3, 7, 5], 82)], (x) => qkv.adaptiveAvgPool2d(x, [3, 2]), 'adaptiveAvgPool2d shrink');
    gradcheck([inp([1, 2, 5, 6], 83)], (x) => qkv.adaptiveAvgPool2d(x, [7, 4]), 'adaptiveAvgPool2d overlapping bins');
  },
  // ---- normalisation
  batchNorm: () => {
    const train = { training: true };
    gradcheck([inp([2, 3, 3, 5], 66), inp([3], 67), inp([3], 68)], (x, g, b) => qkv.batchNorm(x, null, null, g, b, train), 'batchNorm training NCHW');
    gradcheck([inp([1, 3, 5, 3], 69), inp([3], 70), inp([3], 71)], (x, g, b) => qkv.batchNorm(x, null, null, g, b, train), 'batchNorm training N = 1');
    gradcheck([inp([5, 3], 72)], (x) => qkv.batchNorm(x, null, null, null, null, train), 'batchNorm training [N, C] without affine');
    const stats = () => [qkv.Tensor.from([0.3, -0.2, 0.1], [3], { dtype: 'float64' }), qkv.Tensor.from([0.5, 1.5, 2], [3], { dtype: 'float64' })];
    gradcheck([inp([2, 3, 3, 5], 73), inp([3], 74), inp([3], 75)], (x, g, b) => {
      const [rm, rv] = stats();
      return qkv.batchNorm(x, rm, rv, g, b);
    }, 'batchNorm evaluation');
  },
  groupNorm: () => {
    gradcheck([inp([2, 6, 3, 5], 76), inp([6], 77), inp([6], 78)], (x, g, b) => qkv.groupNorm(x, 3, g, b), 'groupNorm 3 groups of 2');
    gradcheck([inp([1, 3, 5, 3], 79), inp([3], 80), inp([3], 81)], (x, g, b) => qkv.groupNorm(x, 1, g, b), 'groupNorm 1 group, N = 1');
    gradcheck([inp([2, 3, 7], 82), inp([3], 83), inp([3], 84)], (x, g, b) => qkv.groupNorm(x, 3, g, b), 'groupNorm C groups');
    gradcheck([inp([3, 4], 85)], (x) => qkv.groupNorm(x, 2), 'groupNorm [N, C] without affine');
  },
};

describe('gradient checks against finite differences (float64)', () => {
  it('cover every differentiable op of the registry', () => {
    const missing = qkv.opRegistry().filter((o) => o.differentiable && !(o.name in cases)).map((o) => o.name);
    expect(missing).toEqual([]);
  });
  for (const [name, run] of Object.entries(cases)) it(name, run);
});

describe('autograd', () => {
  it('accumulates gradients across backward calls, and grad = null clears them', () => {
    const x = qkv.Tensor.from([1, 2, 3], [3], { requiresGrad: true, dtype: 'float64' });
    qkv.sum(qkv.mul(x, x)).backward();
    qkv.sum(qkv.mul(x, 3)).backward();
    expect(x.grad!.toArray()).toEqual([5, 7, 9]);
    x.grad = null;
    expect(x.grad).toBeNull();
  });

  it('reuses a tensor along several paths (the gradients add up)', () => {
    const x = qkv.Tensor.from([0.5, -1], [2], { requiresGrad: true, dtype: 'float64' });
    const y = qkv.mul(qkv.exp(x), x);  // d/dx (x e^x) = e^x (1 + x)
    y.backward(qkv.Tensor.from([1, 1], [2], { dtype: 'float64' }));
    expectClose(x.grad!.toTypedArray(), [0.5, -1].map((v) => Math.exp(v) * (1 + v)), 1e-12, 0, 'x e^x');
  });

  it('records nothing under noGrad, and detach cuts the graph', () => {
    const x = qkv.randn([3], { seed: 1, requiresGrad: true });
    const y = qkv.noGrad(() => qkv.mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    const z = qkv.mul(x, 2);
    expect(z.gradFn).toBe('mul');
    expect(z.detach().requiresGrad).toBe(false);
    expect(() => y.backward()).toThrow(/backward: the tensor does not require gradients/);
  });

  it('frees the graph after backward unless retainGraph is set', () => {
    const x = qkv.randn([3], { seed: 2, requiresGrad: true });
    const loss = qkv.sum(qkv.tanh(x));
    loss.backward(null, { retainGraph: true });
    loss.backward();
    expect(() => loss.backward()).toThrow(/already freed/);
  });

  it('checks its arguments', () => {
    expect(() => { qkv.Tensor.from([1], [1], { dtype: 'int32' }).requiresGrad = true; }).toThrow(TypeError);
    const x = qkv.randn([2, 2], { seed: 3, requiresGrad: true });
    expect(() => qkv.mul(x, 2).backward()).toThrow(/a gradient must be given for a non-scalar tensor of shape \[2, 2\]/);
    expect(() => qkv.mul(x, 2).backward(qkv.zeros([3]))).toThrow(RangeError);
    expect(() => { qkv.mul(x, 2).requiresGrad = false; }).toThrow(/non-leaf/);
  });

  it('trains a tiny model by hand: logistic regression on separable data reaches zero error', () => {
    const r = rng(5);
    const n = 64;
    const xs = new Float32Array(n * 2), ys = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ys[i] = i % 2;
      xs[2 * i] = r.normal() * 0.5 + (ys[i] ? 2 : -2);
      xs[2 * i + 1] = r.normal() * 0.5;
    }
    const X = qkv.Tensor.from(xs, [n, 2]), Y = qkv.Tensor.from(ys);
    let W = qkv.zeros([2, 2], { requiresGrad: true });
    for (let step = 0; step < 50; step++) {
      const loss = qkv.crossEntropy(qkv.matmul(X, W), Y);
      loss.backward();
      W = qkv.noGrad(() => qkv.sub(W, qkv.mul(W.grad!, 0.5)));
      W.requiresGrad = true;
    }
    const pred = qkv.argmax(qkv.matmul(X, W)).toTypedArray();
    expect(Array.from(pred)).toEqual(Array.from(ys));
  });
});

describe('vectorised backward kernels (float32, every SIMD level)', () => {
  const initial = qkv.simd.level();
  for (const level of qkv.simd.available())
    it(`gelu' on ${level} matches the float64 derivative`, () => {
      qkv.simd.use(level);
      try {
        const xs = randomRef([70001], 60, 4).data;
        for (const approximate of ['none', 'tanh'] as const) {
          const x = qkv.Tensor.from(Float32Array.from(xs), [xs.length], { requiresGrad: true });
          qkv.sum(qkv.gelu(x, { approximate })).backward();
          const x64 = qkv.Tensor.from(Float64Array.from(xs), [xs.length], { requiresGrad: true });
          qkv.sum(qkv.gelu(x64, { approximate })).backward();
          expectClose(x.grad!.toTypedArray(), x64.grad!.toTypedArray(), 1e-5, 2e-7, `gelu' ${approximate}`);
        }
      } finally {
        qkv.simd.use(initial);
      }
    });
  for (const level of qkv.simd.available())
    it(`layer norm backward on ${level} matches float64 (input, gamma and beta gradients)`, () => {
      qkv.simd.use(level);
      try {
        // 700 rows: more than one 256-row block of the column sums; 77 columns: a ragged vector tail.
        const xs = randomRef([700, 77], 61, 3).data, gs = randomRef([77], 62).data, bs = randomRef([77], 63).data;
        const ws = randomRef([700, 77], 64).data;
        const grads = (ctor: Float32ArrayConstructor | Float64ArrayConstructor) => {
          const x = qkv.Tensor.from(ctor.from(xs), [700, 77], { requiresGrad: true });
          const g = qkv.Tensor.from(ctor.from(gs), [77], { requiresGrad: true });
          const b = qkv.Tensor.from(ctor.from(bs), [77], { requiresGrad: true });
          const w = qkv.Tensor.from(ctor.from(ws), [700, 77]);
          qkv.sum(qkv.mul(qkv.layerNorm(x, g, b), w)).backward();
          return [x, g, b].map((t) => t.grad!.toTypedArray());
        };
        const [f32, f64] = [grads(Float32Array), grads(Float64Array)];
        expectClose(f32[0], f64[0], 2e-4, 1e-5, 'dx');
        expectClose(f32[1], f64[1], 2e-4, 1e-5, 'dgamma');
        expectClose(f32[2], f64[2], 2e-4, 1e-5, 'dbeta');
      } finally {
        qkv.simd.use(initial);
      }
    });
});
