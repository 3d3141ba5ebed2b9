// qkv.infoNCE, the fused CLIP / SigLIP loss: against float64 loops over the explicit logits
// (test/helpers/contrastive-reference.ts) on ragged sizes, its gradients (embeddings, logScale,
// bias) against central finite differences of that reference, the tiled kernels against the
// readable reference kernel on sizes that span several tiles and row chunks, and PyTorch's values
// (test/fixtures/make_infonce_parity.py).
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { infoNCERef } from './helpers/contrastive-reference';
import { expectClose, randomRef } from './helpers/reference';

type FloatDType = 'float32' | 'float64';
type Loss = 'clip' | 'siglip';
const CLIP_T = Math.log(1 / 0.07), SIGLIP_T = Math.log(10), SIGLIP_B = -10;

const tensor = (data: Float64Array, shape: number[], dtype: FloatDType, requiresGrad = false) =>
  qkv.Tensor.from(dtype === 'float32' ? Float32Array.from(data) : Float64Array.from(data), shape, { requiresGrad });
const scalar = (v: number, dtype: FloatDType, requiresGrad = false) => tensor(Float64Array.of(v), [], dtype, requiresGrad);

/** A batch whose matching pairs are correlated (text = image + noise), so that the loss is neither 0 nor log N. */
function batch(N: number, D: number, seed: number) {
  const image = randomRef([N, D], seed, 2).data;
  const noise = randomRef([N, D], seed + 1, 3).data;
  return { image, text: image.map((v, i) => v + noise[i]) };
}

interface Run {
  loss: number;
  image: Float64Array;
  text: Float64Array;
  logScale: number;
  bias: number | null;
}

/** Loss and gradients from the autograd path (the tiled kernels). */
function fast(image: Float64Array, text: Float64Array, N: number, D: number, loss: Loss, t: number, b: number, dtype: FloatDType): Run {
  const img = tensor(image, [N, D], dtype, true), txt = tensor(text, [N, D], dtype, true), ls = scalar(t, dtype, true);
  const bias = loss === 'siglip' ? scalar(b, dtype, true) : undefined;
  const L = qkv.infoNCE(img, txt, ls, { loss, bias });
  expect(L.shape).toEqual([]);
  L.backward();
  const f64 = (x: qkv.Tensor) => Float64Array.from(x.toTypedArray());
  return { loss: L.item(), image: f64(img.grad!), text: f64(txt.grad!), logScale: ls.grad!.item(), bias: bias ? bias.grad!.item() : null };
}

/** Loss and gradients from the readable reference kernel (explicit logits, in double). */
function reference(image: Float64Array, text: Float64Array, N: number, D: number, loss: Loss, t: number, b: number, dtype: FloatDType): Run {
  const r = qkv.infoNCEReference(tensor(image, [N, D], dtype), tensor(text, [N, D], dtype), scalar(t, dtype),
    { loss, bias: loss === 'siglip' ? scalar(b, dtype) : undefined });
  const f64 = (x: qkv.Tensor) => Float64Array.from(x.toTypedArray());
  return { loss: r.loss.item(), image: f64(r.imageEmb), text: f64(r.textEmb), logScale: r.logScale.item(), bias: r.bias ? r.bias.item() : null };
}

function expectRunsClose(got: Run, want: Run, rtol: number, atol: number, what: string) {
  expectClose([got.loss], [want.loss], rtol, atol, `${what} loss`);
  expectClose(got.image, want.image, rtol, atol, `${what} d imageEmb`);
  expectClose(got.text, want.text, rtol, atol, `${what} d textEmb`);
  expectClose([got.logScale], [want.logScale], rtol, atol, `${what} d logScale`);
  if (want.bias !== null) expectClose([got.bias!], [want.bias], rtol, atol, `${what} d bias`);
}

const initialThreads = qkv.threads();
afterAll(() => qkv.setThreads(initialThreads));

describe('infoNCE against float64 loops over the explicit logits', () => {
  for (const loss of ['clip', 'siglip'] as const)
    for (const dtype of ['float64', 'float32'] as const)
      it(`${loss} (${dtype}) on N = 1, 3, 37, 130, 600 (ragged tiles)`, () => {
        let seed = 10;
        for (const N of [1, 3, 37, 130, 600])
          for (const D of [1, 5, 17]) {
            const { image, text } = batch(N, D, seed += 2);
            const t = loss === 'clip' ? CLIP_T : SIGLIP_T;
            const want = infoNCERef(image, text, N, D, t, { loss, bias: loss === 'siglip' ? SIGLIP_B : 0 });
            const bias = loss === 'siglip' ? scalar(SIGLIP_B, dtype) : undefined;
            const got = qkv.infoNCE(tensor(image, [N, D], dtype), tensor(text, [N, D], dtype), scalar(t, dtype), { loss, bias });
            expect(got.dtype).toBe(dtype);
            const [rtol, atol] = dtype === 'float64' ? [1e-10, 1e-13] : [2e-5, 2e-6];
            expectClose([got.item()], [want], rtol, atol, `${loss} N=${N} D=${D}`);
          }
      });

  it('N = 1 gives 0 for CLIP (the only candidate is the match) and softplus(-logit) for SigLIP', () => {
    const x = Float64Array.of(3, -4), y = Float64Array.of(1, 1);
    expect(qkv.infoNCE(tensor(x, [1, 2], 'float64'), tensor(y, [1, 2], 'float64'), scalar(CLIP_T, 'float64')).item()).toBeCloseTo(0, 12);
    const logit = 10 * ((3 - 4) / 5 / Math.SQRT2) + SIGLIP_B;
    const got = qkv.infoNCE(tensor(x, [1, 2], 'float64'), tensor(y, [1, 2], 'float64'), scalar(SIGLIP_T, 'float64'),
      { loss: 'siglip', bias: scalar(SIGLIP_B, 'float64') }).item();
    expectClose([got], [Math.log1p(Math.exp(-logit))], 1e-13, 0, 'siglip N=1');
  });
});

describe('infoNCE gradients against finite differences of the float64 loops', () => {
  const h = 1e-6;
  for (const loss of ['clip', 'siglip'] as const)
    for (const [N, D] of [[1, 3], [3, 4], [37, 5]] as const)
      it(`${loss}: imageEmb, textEmb, logScale${loss === 'siglip' ? ', bias' : ''} at N = ${N}, D = ${D}`, () => {
        const { image, text } = batch(N, D, 100 + N);
        // Away from the initial values, so that logScale and bias gradients are not special.
        const t = loss === 'clip' ? 1.3 : 0.9, b = loss === 'siglip' ? -1.7 : 0;
        const ref = (img: Float64Array, txt: Float64Array, tt: number, bb: number) => infoNCERef(img, txt, N, D, tt, { loss, bias: bb });
        const got = fast(image, text, N, D, loss, t, b, 'float64');
        const numeric = (x: Float64Array, f: (p: Float64Array) => number) =>
          x.map((_, j) => {
            const plus = x.slice(), minus = x.slice();
            plus[j] += h;
            minus[j] -= h;
            return (f(plus) - f(minus)) / (2 * h);
          });
        expectClose([got.loss], [ref(image, text, t, b)], 1e-12, 1e-13, 'loss');
        expectClose(got.image, numeric(image, (p) => ref(p, text, t, b)), 1e-5, 1e-7, 'd imageEmb');
        expectClose(got.text, numeric(text, (p) => ref(image, p, t, b)), 1e-5, 1e-7, 'd textEmb');
        expectClose([got.logScale], [(ref(image, text, t + h, b) - ref(image, text, t - h, b)) / (2 * h)], 1e-5, 1e-7, 'd logScale');
        if (loss === 'siglip') expectClose([got.bias!], [(ref(image, text, t, b + h) - ref(image, text, t, b - h)) / (2 * h)], 1e-5, 1e-7, 'd bias');
      });

  it('scales with the output gradient and accumulates into existing gradients', () => {
    const { image, text } = batch(9, 4, 7);
    const img = tensor(image, [9, 4], 'float64', true), txt = tensor(text, [9, 4], 'float64', true), t = scalar(CLIP_T, 'float64', true);
    qkv.infoNCE(img, txt, t).backward(scalar(2.5, 'float64'));
    const once = fast(image, text, 9, 4, 'clip', CLIP_T, 0, 'float64');
    expectClose(img.grad!.toTypedArray(), once.image.map((v) => 2.5 * v), 1e-12, 1e-14, 'd imageEmb x 2.5');
    expectClose([t.grad!.item()], [2.5 * once.logScale], 1e-12, 1e-14, 'd logScale x 2.5');
  });

  it('a zero row (its norm clamped at 1e-12, as F.normalize) gives finite values and gradients', () => {
    const { image, text } = batch(4, 3, 8);
    image.fill(0, 3, 6);
    const r = fast(image, text, 4, 3, 'clip', CLIP_T, 0, 'float64');
    const want = reference(image, text, 4, 3, 'clip', CLIP_T, 0, 'float64');
    expectRunsClose(r, want, 1e-9, 1e-12, 'zero row');
  });
});

describe('the tiled kernels against the reference kernel', () => {
  // 1210 rows: tiles of 576 x 576, ragged both ways; 2 or 3 row chunks (1, 2 or 3 threads).
  for (const loss of ['clip', 'siglip'] as const)
    for (const dtype of ['float64', 'float32'] as const)
      it(`${loss} (${dtype}): loss and every gradient on N = 1210, D = 33, at 1, 2 and 3 threads`, () => {
        const { image, text } = batch(1210, 33, 200);
        const t = loss === 'clip' ? CLIP_T : SIGLIP_T;
        const want = reference(image, text, 1210, 33, loss, t, SIGLIP_B, dtype);
        const [rtol, atol] = dtype === 'float64' ? [1e-10, 1e-13] : [2e-4, 2e-7];
        for (const threads of [1, 2, 3]) {
          qkv.setThreads(threads);
          expectRunsClose(fast(image, text, 1210, 33, loss, t, SIGLIP_B, dtype), want, rtol, atol, `${threads} threads`);
        }
        qkv.setThreads(initialThreads);
      });

  it('reads strided views (a transposed [D, N] buffer) like their contiguous copies', () => {
    const { image, text } = batch(45, 7, 400);
    const t = scalar(CLIP_T, 'float32');
    const viewOf = (x: Float64Array) => tensor(x, [45, 7], 'float32').transpose().contiguous().transpose();
    const iv = viewOf(image), tv = viewOf(text);
    expect(iv.isContiguous()).toBe(false);
    const want = qkv.infoNCE(tensor(image, [45, 7], 'float32'), tensor(text, [45, 7], 'float32'), t).item();
    expect(qkv.infoNCE(iv, tv, t).item()).toBe(want);
  });

  it('is deterministic for a given thread count', () => {
    const { image, text } = batch(1200, 16, 300);
    const a = fast(image, text, 1200, 16, 'clip', CLIP_T, 0, 'float32'), b = fast(image, text, 1200, 16, 'clip', CLIP_T, 0, 'float32');
    expect(a).toEqual(b);
  });
});

describe('infoNCE against PyTorch (test/fixtures/make_infonce_parity.py)', () => {
  it('matches F.cross_entropy both ways and F.logsigmoid, losses and gradients, within 1e-5', async () => {
    const { tensors } = await qkv.loadSafetensors(path.join(__dirname, 'fixtures', 'infonce_parity.safetensors'));
    const get = (name: string) => {
      const t = tensors.get(name);
      expect(t, name).toBeDefined();
      return t!;
    };
    const data = (name: string) => Float64Array.from(get(name).toTypedArray());
    const [N, D] = get('image').shape;
    const image = data('image'), text = data('text');
    for (const loss of ['clip', 'siglip'] as const) {
      const b = loss === 'siglip' ? get('siglip.bias').item() : 0;
      const got = fast(image, text, N, D, loss, get(`${loss}.logScale`).item(), b, 'float64');
      const want: Run = {
        loss: get(`${loss}.loss`).item(), image: data(`${loss}.grad.image`), text: data(`${loss}.grad.text`),
        logScale: get(`${loss}.grad.logScale`).item(), bias: loss === 'siglip' ? get('siglip.grad.bias').item() : null,
      };
      expectRunsClose(got, want, 1e-5, 1e-12, `torch ${loss}`);
    }
  });
});

describe('infoNCE argument checks', () => {
  const x = tensor(randomRef([4, 3], 1).data, [4, 3], 'float64');
  const t = scalar(1, 'float64');
  it('names the call and the problem', () => {
    expect(() => qkv.infoNCE(x, tensor(randomRef([5, 3], 2).data, [5, 3], 'float64'), t)).toThrow(/infoNCE: imageEmb and textEmb must both be \[N, D\] of one shape, got \[4, 3\] and \[5, 3\]/);
    expect(() => qkv.infoNCE(x.reshape([12]), x.reshape([12]), t)).toThrow(RangeError);
    expect(() => qkv.infoNCE(x, x, tensor(Float64Array.of(1, 2), [2], 'float64'))).toThrow(/infoNCE: logScale must be a scalar tensor, got shape \[2\]/);
    expect(() => qkv.infoNCE(x, x, scalar(1, 'float32'))).toThrow(/infoNCE: logScale must have imageEmb's dtype float64, got float32/);
    expect(() => qkv.infoNCE(x, x, t, { loss: 'siglip' })).toThrow(/infoNCE: the siglip loss needs option bias/);
    expect(() => qkv.infoNCE(x, x, t, { bias: t })).toThrow(/infoNCE: option bias is only for loss 'siglip'/);
    expect(() => qkv.infoNCE(x, x, t, { loss: 'siglip', bias: tensor(Float64Array.of(1, 2), [2], 'float64') })).toThrow(/infoNCE: bias must be a scalar tensor/);
    expect(() => qkv.infoNCE(x, x, t, { loss: 'sigmoid' as 'siglip' })).toThrow(TypeError);
    expect(() => qkv.infoNCE(x, 3 as unknown as qkv.Tensor, t)).toThrow(/infoNCE.*textEmb/);
    expect(() => qkv.infoNCE(qkv.zeros([0, 3], { dtype: 'float64' }), qkv.zeros([0, 3], { dtype: 'float64' }), t)).toThrow(/infoNCE: needs at least one pair/);
    expect(() => qkv.infoNCE(qkv.zeros([2, 3], { dtype: 'int32' }), qkv.zeros([2, 3], { dtype: 'int32' }), t)).toThrow(TypeError);
  });
});
