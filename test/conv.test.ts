// The image ops against PyTorch 1.13 (test/fixtures/make_conv_parity.py: forward and backward of
// conv2d, maxPool2d, avgPool2d and adaptiveAvgPool2d in float64), the im2col + GEMM convolution
// against the direct-loop reference kernel on sizes that take each threading path, and the errors.
import path from 'path';
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { expectClose, randomRef } from './helpers/reference';

type DType = 'float32' | 'float64';
interface Config {
  op: 'conv2d' | 'maxPool2d' | 'avgPool2d' | 'adaptiveAvgPool2d';
  options: Record<string, unknown>;
}

const fixture = qkv.loadSafetensors(path.join(__dirname, 'fixtures', 'conv_parity.safetensors'));

function run(c: Config, x: qkv.Tensor, w?: qkv.Tensor, b?: qkv.Tensor): qkv.Tensor {
  const o = c.options as Record<string, never>;
  switch (c.op) {
    case 'conv2d': return qkv.conv2d(x, w!, b ?? null, o);
    case 'maxPool2d': return qkv.maxPool2d(x, o.kernel, o);
    case 'avgPool2d': return qkv.avgPool2d(x, o.kernel, o);
    case 'adaptiveAvgPool2d': return qkv.adaptiveAvgPool2d(x, o.outputSize);
  }
}

// float32 within 1e-4 of each tensor's largest magnitude; float64 to rounding.
function compare(actual: qkv.Tensor, expected: qkv.Tensor, dtype: DType, what: string) {
  expect(actual.shape, `${what} shape`).toEqual(expected.shape);
  const e = Array.from(expected.toTypedArray());
  const maxAbs = e.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  expectClose(actual.toTypedArray(), e, dtype === 'float32' ? 1e-4 : 1e-10, (dtype === 'float32' ? 1e-4 : 1e-12) * maxAbs, what);
}

describe.each(['float32', 'float64'] as const)('image ops match PyTorch (%s)', (dtype) => {
  it('outputs and the gradients of sum(y * g), for every fixture config', async () => {
    const st = await fixture;
    const configs = JSON.parse(st.metadata.configs) as Config[];
    expect(configs.map((c) => c.op)).toEqual(expect.arrayContaining(['conv2d', 'maxPool2d', 'avgPool2d', 'adaptiveAvgPool2d']));
    configs.forEach((c, i) => {
      const get = (k: string) => st.tensors.get(`${i}.${k}`);
      const leaf = (k: string) => {
        const t = get(k);
        return t && qkv.Tensor.from(dtype === 'float32' ? Float32Array.from(t.toTypedArray()) : t.toTypedArray(), t.shape, { requiresGrad: true });
      };
      const [x, w, b] = [leaf('x')!, leaf('w'), leaf('b')];
      const y = run(c, x, w, b);
      const what = `config ${i} ${c.op} ${JSON.stringify(c.options)}`;
      compare(y, get('y')!, dtype, `${what}: y`);
      qkv.sum(qkv.mul(y, get('g')!.to(dtype))).backward();
      compare(x.grad!, get('dx')!, dtype, `${what}: dx`);
      if (w) compare(w.grad!, get('dw')!, dtype, `${what}: dw`);
      if (b) compare(b.grad!, get('db')!, dtype, `${what}: db`);
    });
  });
});

describe('conv2d: the im2col + GEMM kernel against the direct loops', () => {
  // N below and above the thread count (threads over the samples, or GEMM threaded inside), a
  // 1x1 kernel (no im2col), groups with dilation and padding, and padding wider than the input.
  const configs: [number[], number[], qkv.Conv2dOptions][] = [
    [[1, 16, 19, 17], [24, 16, 3, 3], { padding: 1 }],
    [[9, 6, 12, 10], [8, 3, 3, 2], { stride: [2, 1], padding: [1, 0], dilation: 2, groups: 2 }],
    [[4, 32, 9, 9], [20, 32, 1, 1], {}],
    [[3, 8, 15, 14], [8, 1, 5, 5], { padding: 2, groups: 8 }],
    [[2, 3, 6, 1], [4, 3, 3, 9], { padding: [1, 4], stride: [4, 1] }],  // taps that see only padding
  ];
  for (const dtype of ['float32', 'float64'] as const)
    it(`forward and backward (${dtype})`, () => {
      let seed = 500;
      for (const [xs, ws, o] of configs) {
        const make = (shape: number[]) => qkv.Tensor.from(randomRef(shape, seed++).data, shape, { dtype, requiresGrad: true });
        const [x, w, b] = [make(xs), make(ws), make([ws[0]])];
        const y = qkv.conv2d(x, w, b, o);
        const what = `${xs} * ${ws} ${JSON.stringify(o)}`;
        const tol = dtype === 'float32' ? 1e-5 : 1e-12;
        expectClose(y.toTypedArray(), qkv.conv2dReference(x, w, b, o).toTypedArray(), tol, tol, `${what}: y`);
        // the gradients against those of the reference through a float64 formulation: dx by the
        // adjoint identity <conv(x), g> = <x, dx>, dW and db by the directional derivatives
        const g = qkv.Tensor.from(randomRef(y.shape, seed++).data, y.shape, { dtype });
        qkv.sum(qkv.mul(y, g)).backward();
        const dirs = [x, w, b].map((t) => qkv.Tensor.from(randomRef(t.shape, seed++).data, t.shape, { dtype }));
        const f = (dx: number, dw: number, db: number) => qkv.noGrad(() =>
          qkv.sum(qkv.mul(qkv.conv2dReference(qkv.add(x, qkv.mul(dirs[0], dx)), qkv.add(w, qkv.mul(dirs[1], dw)), qkv.add(b, qkv.mul(dirs[2], db)), o), g)).item());
        const base = f(0, 0, 0);
        [[1, 0, 0], [0, 1, 0], [0, 0, 1]].forEach(([a, c, d], k) => {
          // conv is linear in each argument: the difference quotient at step 1 is exact up to rounding
          const numeric = f(a, c, d) - base;
          const analytic = qkv.noGrad(() => qkv.sum(qkv.mul([x, w, b][k].grad!, dirs[k])).item());
          expect(Math.abs(analytic - numeric), `${what}: gradient ${['x', 'weight', 'bias'][k]}`).toBeLessThan((dtype === 'float32' ? 1e-3 : 1e-9) * (1 + Math.abs(numeric)));
        });
      }
    });

  it('gives the same values for any thread count', () => {
    const before = qkv.threads();
    try {
      const x = qkv.Tensor.from(randomRef([6, 8, 11, 9], 600).data, [6, 8, 11, 9], { requiresGrad: true });
      const w = qkv.Tensor.from(randomRef([10, 4, 3, 3], 601).data, [10, 4, 3, 3], { requiresGrad: true });
      const results = [1, 3].map((n) => {
        qkv.setThreads(n);
        x.grad = null;
        w.grad = null;
        const y = qkv.conv2d(x, w, null, { padding: 1, groups: 2 });
        qkv.sum(qkv.mul(y, y)).backward();
        return [y, x.grad!, w.grad!].map((t) => Array.from(t.toTypedArray()));
      });
      expectClose(results[1][0], results[0][0], 1e-6, 1e-6, 'y');
      expectClose(results[1][1], results[0][1], 1e-6, 1e-6, 'dx');
      expectClose(results[1][2], results[0][2], 1e-5, 1e-5, 'dw');
    } finally {
      qkv.setThreads(before);
    }
  });
});

describe('maxPool2d ties', () => {
  it('routes the gradient to the first maximum of each window, as PyTorch', () => {
    // all equal: each 2x2 window (stride 1) of a 3x3 plane picks its top-left pixel
    const x = qkv.ones([1, 1, 3, 3], { dtype: 'float64', requiresGrad: true });
    qkv.sum(qkv.maxPool2d(x, 2, { stride: 1 })).backward();
    expect(Array.from(x.grad!.toTypedArray())).toEqual([1, 1, 0, 1, 1, 0, 0, 0, 0]);
    // a window over the padding only ever picks input pixels, even when they are all negative
    const y = qkv.full([1, 1, 2, 2], -5, { dtype: 'float64', requiresGrad: true });
    const out = qkv.maxPool2d(y, 3, { stride: 1, padding: 1 });
    expect(Array.from(out.toTypedArray())).toEqual([-5, -5, -5, -5]);
    qkv.sum(out).backward();
    expect(Array.from(y.grad!.toTypedArray())).toEqual([4, 0, 0, 0]);
  });
});

describe('image op errors name the call and the shapes', () => {
  const t = (shape: number[], dtype: DType = 'float32') => qkv.zeros(shape, { dtype });
  it('conv2d', () => {
    expect(() => qkv.conv2d(t([3, 7, 5]), t([2, 3, 3, 3]))).toThrow(/^conv2d: input must be 4-D \[N, C, H, W\], got \[3, 7, 5\]$/);
    expect(() => qkv.conv2d(t([1, 4, 7, 5]), t([2, 3, 3, 3]))).toThrow(RangeError);
    expect(() => qkv.conv2d(t([1, 4, 7, 5]), t([2, 3, 3, 3]))).toThrow(/conv2d: the weight takes 3 channels per group x 1 groups, the input has 4: input \[1, 4, 7, 5\], weight \[2, 3, 3, 3\]/);
    expect(() => qkv.conv2d(t([1, 4, 7, 5]), t([3, 2, 3, 3]), null, { groups: 2 })).toThrow(/conv2d: groups 2 must divide the input channels 4 and the output channels 3/);
    expect(() => qkv.conv2d(t([1, 6, 7, 5]), t([6, 2, 3, 3]), null, { groups: 4 })).toThrow(/conv2d: groups 4 must divide/);
    expect(() => qkv.conv2d(t([1, 2, 4, 5]), t([2, 2, 5, 3]))).toThrow(/conv2d: the output would be empty \(0x3\) for input \[1, 2, 4, 5\] with kernel 5x3/);
    expect(() => qkv.conv2d(t([1, 2, 4, 5]), t([2, 2, 3, 3]), null, { dilation: 3 })).toThrow(RangeError);
    expect(() => qkv.conv2d(t([1, 2, 4, 5]), t([2, 2, 3, 3]), t([3]))).toThrow(/conv2d: bias must be \[2\]: .*bias \[3\]/);
    expect(() => qkv.conv2d(t([1, 2, 4, 5]), t([2, 2, 3, 3], 'float64'))).toThrow(TypeError);
    expect(() => qkv.conv2d(t([1, 2, 4, 5]), t([2, 2, 3, 3]), null, { stride: 0 })).toThrow(/conv2d: option stride must be an integer in \[1,/);
    expect(() => qkv.conv2d(t([1, 2, 4, 5]), t([2, 2, 3, 3]), null, { padding: [1, 2, 3] as never })).toThrow(/conv2d: option padding must be an integer or \[h, w\]/);
    expect(() => qkv.conv2d(t([1, 2, 4, 5]), t([2, 2, 3, 3]), null, { groups: 0 })).toThrow(RangeError);
    expect(() => qkv.conv2d(t([1, 2, 4, 5]), t([2, 2, 3, 3]), null, { stride: '2' as never })).toThrow(TypeError);
  });
  it('pooling', () => {
    expect(() => qkv.maxPool2d(t([7, 5]), 2)).toThrow(/^maxPool2d: input must be 4-D \[N, C, H, W\], got \[7, 5\]$/);
    expect(() => qkv.avgPool2d(t([1, 1, 7, 5]), 6)).toThrow(/avgPool2d: the output would be empty \(1x0\) for input \[1, 1, 7, 5\]/);
    expect(() => qkv.maxPool2d(t([1, 1, 7, 5]), 3, { padding: 2 })).toThrow(/maxPool2d: padding 2x2 must be at most half the kernel 3x3/);
    expect(() => qkv.maxPool2d(t([1, 1, 7, 5]), 0)).toThrow(RangeError);
    expect(() => qkv.adaptiveAvgPool2d(t([1, 1, 7, 5]), [0, 2])).toThrow(/adaptiveAvgPool2d: outputSize/);
    expect(() => qkv.adaptiveAvgPool2d(t([1, 7, 5]), 2)).toThrow(/adaptiveAvgPool2d: input must be 4-D/);
    expect(() => qkv.maxPool2d(qkv.zeros([1, 1, 4, 4], { dtype: 'int32' }), 2)).toThrow(TypeError);
  });
});
