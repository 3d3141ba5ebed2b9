// Batch norm, group norm and image preprocessing against PyTorch 1.13
// (test/fixtures/make_norm_image_parity.py: inputs in float32, references computed in float64):
// within 1e-4 relative in float32 and 1e-9 in float64. Then the running statistics over several
// steps against a float64 loop, CLIP's transform against its PIL reference, and the errors.
import path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { expectClose, randomRef } from './helpers/reference';

type FloatDType = 'float32' | 'float64';
const DTYPES: FloatDType[] = ['float32', 'float64'];
const fixture = path.join(__dirname, 'fixtures', 'norm_image_parity.safetensors');

let tensors: Map<string, qkv.Tensor>;
let cases: Record<string, any>;
beforeAll(async () => {
  const file = await qkv.loadSafetensors(fixture);
  tensors = file.tensors;
  cases = JSON.parse(file.metadata.cases);
  expect(file.metadata.torch).toMatch(/^1\.13/);
});

const get = (name: string, dtype?: FloatDType, requiresGrad = false): qkv.Tensor => {
  const t = tensors.get(name);
  if (!t) throw new Error(`fixture has no ${name}`);
  if (!dtype) return t;
  return qkv.Tensor.from(dtype === 'float32' ? Float32Array.from(t.toTypedArray()) : Float64Array.from(t.toTypedArray()), t.shape, { requiresGrad });
};

/** Relative to the reference's largest magnitude (values cross zero), 1e-4 in float32. */
function near(got: qkv.Tensor | null, ref: string, dtype: FloatDType, what: string, tol32 = 1e-4): void {
  expect(got, `${what}: missing`).not.toBeNull();
  const e = get(ref);
  expect(got!.shape, `${what} shape`).toEqual(e.shape);
  const data = e.toTypedArray();
  const scale = Array.from(data).reduce((m, v) => Math.max(m, Math.abs(v)), 1e-30);
  const tol = dtype === 'float32' ? tol32 : 1e-9;
  expectClose(got!.toTypedArray(), data, tol, tol * scale, `${what} (${dtype})`);
}

describe('batchNorm against PyTorch', () => {
  for (const name of ['bn4d', 'bn2d', 'bn1'])
    for (const dtype of DTYPES)
      for (const training of [true, false])
        it(`${name} ${training ? 'training' : 'evaluation'} (${dtype})`, () => {
          const { momentum, affine } = cases[name];
          const x = get(`${name}.x`, dtype, true);
          const gamma = affine ? get(`${name}.gamma`, dtype, true) : null, beta = affine ? get(`${name}.beta`, dtype, true) : null;
          const rm = get(`${name}.runningMean`, dtype), rv = get(`${name}.runningVar`, dtype);
          const y = qkv.batchNorm(x, rm, rv, gamma, beta, { training, momentum });
          const mode = training ? 'train' : 'eval';
          near(y, `${name}.${mode}.out`, dtype, `${name} ${mode} out`);
          qkv.sum(qkv.mul(y, get(`${name}.upstream`, dtype))).backward();
          near(x.grad, `${name}.${mode}.dx`, dtype, `${name} ${mode} dx`);
          if (affine) {
            near(gamma!.grad, `${name}.${mode}.dgamma`, dtype, `${name} ${mode} dgamma`);
            near(beta!.grad, `${name}.${mode}.dbeta`, dtype, `${name} ${mode} dbeta`);
          }
          const stats = training ? `${name}.train.` : `${name}.`;
          near(rm, `${stats}runningMean`, dtype, `${name} ${mode} running mean`);
          near(rv, `${stats}runningVar`, dtype, `${name} ${mode} running var`);
        });
});

describe('groupNorm against PyTorch', () => {
  for (const name of ['gn3', 'gn1', 'gnC'])
    for (const dtype of DTYPES)
      it(`${name}: ${name === 'gn1' ? 1 : 3} groups (${dtype})`, () => {
        const x = get(`${name}.x`, dtype, true), gamma = get(`${name}.gamma`, dtype, true), beta = get(`${name}.beta`, dtype, true);
        const y = qkv.groupNorm(x, cases[name].groups, gamma, beta);
        near(y, `${name}.out`, dtype, `${name} out`);
        qkv.sum(qkv.mul(y, get(`${name}.upstream`, dtype))).backward();
        near(x.grad, `${name}.dx`, dtype, `${name} dx`);
        near(gamma.grad, `${name}.dgamma`, dtype, `${name} dgamma`);
        near(beta.grad, `${name}.dbeta`, dtype, `${name} dbeta`);
      });
});

describe('image preprocessing against PyTorch', () => {
  it('resize matches interpolate(align_corners=False) for every mode, size and antialias setting', () => {
    expect(cases.resize.length).toBe(15);
    for (const dtype of DTYPES)
      for (const c of cases.resize) {
        const got = qkv.image.resize(get('img', dtype), c.size, { mode: c.mode, antialias: c.antialias });
        expect(got.dtype).toBe(dtype);
        near(got, c.name, dtype, c.name);
      }
  });

  it('resize takes [C, H, W] and a short side', () => {
    const img = get('img', 'float64');
    const three = qkv.image.resize(img.reshape([3, 13, 17]), [5, 7], { mode: 'bicubic' });
    near(three.reshape([1, 3, 5, 7]), 'resize.bicubic.5x7', 'float64', 'resize [C, H, W]');
    // short side 5 of 13 x 17: the long side is int(5 * 17 / 13) = 6
    expect(qkv.image.resize(img, 5).shape).toEqual([1, 3, 5, 6]);
    expect(qkv.image.resize(img.transpose(2, 3), 5).shape).toEqual([1, 3, 6, 5]);
  });

  it('centerCrop matches torchvision (round half to even)', () => {
    for (const dtype of DTYPES)
      for (const c of cases.crop) near(qkv.image.centerCrop(get('img', dtype), c.size), c.name, dtype, c.name, 0);
    // (13 - 8) / 2 = 2.5 rounds to 2, (17 - 14) / 2 = 1.5 to 2: rows 2..9, columns 2..15
    const idx = qkv.arange(13 * 17, undefined, 1, { dtype: 'float64' }).reshape([1, 13, 17]);
    const crop = qkv.image.centerCrop(idx, [8, 14]).toTypedArray();
    expect(crop[0]).toBe(2 * 17 + 2);
    expect(qkv.image.centerCrop(idx, 4).shape).toEqual([1, 4, 4]);
  });

  it('clipPreprocess on int32 pixels equals the torch pipeline, and PIL (CLIP\'s own) within one pixel level', () => {
    const pixels = get('clip.pixels');
    expect(pixels.dtype).toBe('int32');
    const got = qkv.image.clipPreprocess(pixels, { size: cases.clip.size });
    expect(got.dtype).toBe('float32');
    near(got, 'clip.torch', 'float32', 'clipPreprocess vs torch');
    const pil = get('clip.pil').toTypedArray(), ours = got.toTypedArray();
    const levels = ours.map((v, i) => Math.abs(v - pil[i]) * 255 * 0.2613);  // in pixel levels (the smallest std)
    const off = levels.filter((d) => d > 0.01).length;
    expect(Math.max(...levels)).toBeLessThan(1.01);
    // PIL rounds to 8 bits between its horizontal and vertical passes (and weighs in fixed point): on
    // this noise image 14% of the values land one level away.
    expect(off / levels.length).toBeLessThan(0.2);
  });

  it('clipPreprocess on a float [3, H, W] image in [0, 1]', () => {
    for (const dtype of DTYPES) {
      const got = qkv.image.clipPreprocess(get('clip.float', dtype), { size: cases.clip.size });
      expect(got.dtype).toBe(dtype);
      near(got, 'clip.floatTorch', dtype, 'clipPreprocess float');
    }
  });

  it('int32 resize rounds and clamps to 0..255', () => {
    const px = qkv.Tensor.from(Int32Array.from([0, 255, 0, 255, 255, 0, 255, 0, 0, 255, 0, 255]), [1, 1, 3, 4]);
    const up = qkv.image.resize(px, [7, 9], { mode: 'bicubic' });
    expect(up.dtype).toBe('int32');
    const v = Array.from(up.toTypedArray());
    expect(Math.min(...v)).toBe(0);
    expect(Math.max(...v)).toBe(255);  // bicubic overshoots in float; the pixels are clamped
    const f = qkv.image.resize(px.to('float64'), [7, 9], { mode: 'bicubic' }).toTypedArray();
    v.forEach((p, i) => expect(p).toBe(Math.min(255, Math.max(0, Math.round(f[i])))));
  });

  it('normalize per channel', () => {
    const x = qkv.Tensor.from(randomRef([2, 3, 2, 5], 7).data, [2, 3, 2, 5]);
    const got = qkv.image.normalize(x, [0.1, -0.2, 0.3], [0.5, 2, 0.25]).toTypedArray();
    const xs = x.toTypedArray(), m = [0.1, -0.2, 0.3], s = [0.5, 2, 0.25];
    expectClose(got, Array.from(xs, (v, i) => (v - m[Math.floor(i / 10) % 3]) / s[Math.floor(i / 10) % 3]), 1e-15, 0, 'normalize');
  });
});

describe('batchNorm running statistics', () => {
  it('follow PyTorch\'s update over several steps (float64 loop), and evaluation uses them', () => {
    const [N, C, S] = [3, 3, 5], momentum = 0.3;
    const rm = qkv.zeros([C], { dtype: 'float64' }), rv = qkv.ones([C], { dtype: 'float64' });
    const eRm = [0, 0, 0], eRv = [1, 1, 1];
    for (let step = 0; step < 4; step++) {
      const x = randomRef([N, C, S], 40 + step, 1 + step);
      x.data.forEach((v, i) => (x.data[i] = v + step - Math.floor(i / S) % C));  // each step's means differ
      qkv.batchNorm(qkv.Tensor.from(x.data, x.shape), rm, rv, null, null, { training: true, momentum });
      for (let c = 0; c < C; c++) {
        const vals: number[] = [];
        for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) vals.push(x.data[(n * C + c) * S + s]);
        const m = vals.reduce((a, b) => a + b, 0) / vals.length;
        const unbiased = vals.reduce((a, b) => a + (b - m) ** 2, 0) / (vals.length - 1);
        eRm[c] = (1 - momentum) * eRm[c] + momentum * m;
        eRv[c] = (1 - momentum) * eRv[c] + momentum * unbiased;
      }
      expectClose(rm.toTypedArray(), eRm, 1e-12, 1e-12, `running mean after step ${step}`);
      expectClose(rv.toTypedArray(), eRv, 1e-12, 1e-12, `running var after step ${step}`);
    }
    const x = randomRef([2, C, S], 50);
    const y = qkv.batchNorm(qkv.Tensor.from(x.data, x.shape), rm, rv).toTypedArray();
    expectClose(y, Array.from(x.data, (v, i) => (v - eRm[Math.floor(i / S) % C]) / Math.sqrt(eRv[Math.floor(i / S) % C] + 1e-5)), 1e-12, 1e-12, 'evaluation');
    expectClose(rm.toTypedArray(), eRm, 0, 0, 'evaluation leaves the running mean');
  });

  it('updates a strided view of the running statistics in place', () => {
    const buf = qkv.zeros([6], { dtype: 'float64' });
    const rm = buf.slice(0, 0, 6, 2), rv = buf.slice(0, 1, 6, 2);
    const x = qkv.Tensor.from(Float64Array.from([1, 2, 3, 5, 7, 11]), [2, 3]);
    qkv.batchNorm(x, rm, rv, null, null, { training: true, momentum: 1 });
    // per channel: means 3, 4.5, 7; unbiased variances 8, 12.5, 32
    expectClose(buf.toTypedArray(), [3, 8, 4.5, 12.5, 7, 32], 1e-14, 0, 'interleaved running stats');
  });
});

describe('errors name the call', () => {
  const x = qkv.randn([2, 3, 4], { seed: 1 });
  it('batchNorm', () => {
    expect(() => qkv.batchNorm(x, null, null)).toThrow(/batchNorm: evaluation mode .* needs runningMean/);
    expect(() => qkv.batchNorm(x, qkv.zeros([4]), qkv.ones([4]))).toThrow(/batchNorm: runningMean must have shape \[3\]/);
    expect(() => qkv.batchNorm(x, qkv.zeros([3]), null, null, null, { training: true })).toThrow(/batchNorm: runningMean and runningVar/);
    expect(() => qkv.batchNorm(qkv.randn([1, 3], { seed: 2 }), null, null, null, null, { training: true })).toThrow(/more than one value per channel/);
    expect(() => qkv.batchNorm(x, null, null, null, null, { training: true, momentum: 2 })).toThrow(RangeError);
    expect(() => qkv.batchNorm(qkv.randn([3], { seed: 3 }), null, null, null, null, { training: true })).toThrow(/batchNorm: input must be \[N, C, \.\.\.\]/);
    expect(() => qkv.batchNorm(x, qkv.zeros([3], { dtype: 'float64' }), qkv.ones([3], { dtype: 'float64' }))).toThrow(TypeError);
    expect(() => qkv.batchNorm('x' as never, null, null)).toThrow(/batchNorm: input must be a Tensor/);
  });
  it('groupNorm', () => {
    expect(() => qkv.groupNorm(x, 2)).toThrow(/groupNorm: groups must divide the 3 channels/);
    expect(() => qkv.groupNorm(x, 0)).toThrow(RangeError);
    expect(() => qkv.groupNorm(x, 3, qkv.ones([4]))).toThrow(/groupNorm: gamma must have shape \[3\]/);
  });
  it('image', () => {
    const img = qkv.rand([1, 3, 5, 6], { seed: 4 });
    expect(() => qkv.image.resize(img, [4, 4], { mode: 'nearest', antialias: true })).toThrow(/image.resize: antialias applies to the bilinear and bicubic/);
    expect(() => qkv.image.resize(img, [4, 4], { mode: 'area' as never })).toThrow(TypeError);
    expect(() => qkv.image.resize(img, [4, 0])).toThrow(RangeError);
    expect(() => qkv.image.resize(qkv.rand([5, 6], { seed: 5 }), [4, 4])).toThrow(/image.resize: image must be \[N, C, H, W\] or \[C, H, W\]/);
    expect(() => qkv.image.centerCrop(img, [6, 6])).toThrow(/image.centerCrop: a \[6, 6\] window does not fit/);
    expect(() => qkv.image.normalize(img, [0, 0], [1, 1])).toThrow(/image.normalize: mean and std need one value per channel/);
    expect(() => qkv.image.normalize(img, [0, 0, 0], [1, 0, 1])).toThrow(/image.normalize: std must be positive/);
    expect(() => qkv.image.normalize(qkv.Tensor.from(Int32Array.of(1, 2, 3), [3, 1, 1]), [0, 0, 0], [1, 1, 1])).toThrow(TypeError);
    expect(() => qkv.image.clipPreprocess(qkv.rand([1, 4, 5, 6], { seed: 6 }))).toThrow(/image.clipPreprocess: image must have 3 \(RGB\) channels/);
  });
});
