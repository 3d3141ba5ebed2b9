import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { attentionRef } from './helpers/attention-reference';
import { expectClose, randomRef } from './helpers/reference';

type Dims = [number, number, number, number, number, number];
function inputs(dims: Dims, seed: number, dtype: 'float32' | 'float64' = 'float32') {
  const [B, H, T, S, Dh, Dv] = dims;
  const q = randomRef([B, H, T, Dh], seed), k = randomRef([B, H, S, Dh], seed + 1), v = randomRef([B, H, S, Dv], seed + 2);
  const t = (r: { data: Float64Array; shape: number[] }) =>
    qkv.Tensor.from(dtype === 'float32' ? Float32Array.from(r.data) : Float64Array.from(r.data), r.shape);
  return { q, k, v, tq: t(q), tk: t(k), tv: t(v) };
}

describe('scaledDotProductAttention', () => {
  const configs: { dims: Dims; causal?: boolean; keyLengths?: number[] }[] = [
    { dims: [2, 3, 37, 37, 16, 16] },
    { dims: [2, 3, 37, 37, 16, 16], causal: true },
    { dims: [2, 2, 29, 45, 12, 24], keyLengths: [45, 20] },              // cross-attention with padding
    { dims: [2, 2, 30, 45, 12, 8], causal: true, keyLengths: [40, 7] },
    { dims: [1, 2, 150, 300, 16, 16], causal: true },                     // several query and key blocks
    { dims: [1, 1, 131, 259, 8, 5], keyLengths: [200] },
    { dims: [1, 1, 1, 70, 8, 8], causal: true },                          // one query continuing a cached prefix
  ];
  for (const dtype of ['float32', 'float64'] as const)
    for (const [n, c] of configs.entries())
      it(`matches softmax(QKᵀ/√d + mask)V in float64 (${dtype}, case ${n}: ${JSON.stringify(c)})`, () => {
        const { q, k, v, tq, tk, tv } = inputs(c.dims, 10 + n, dtype);
        const got = qkv.scaledDotProductAttention(tq, tk, tv, { causal: c.causal, keyLengths: c.keyLengths });
        const [B, H, T, , , Dv] = c.dims;
        expect(got.shape).toEqual([B, H, T, Dv]);
        const ref = attentionRef(q.data, k.data, v.data, c.dims, c);
        const tol = dtype === 'float32' ? 2e-5 : 1e-12;
        expectClose(got.toTypedArray(), ref, tol, tol, 'attention');
        expectClose(qkv.attentionReference(tq, tk, tv, { causal: c.causal, keyLengths: c.keyLengths }).toTypedArray(), ref, tol, tol, 'reference kernel');
      });

  it('gives zeros, not NaN, for fully masked rows', () => {
    const { tq, tk, tv } = inputs([2, 1, 6, 4, 4, 4], 3);
    const out = qkv.scaledDotProductAttention(tq, tk, tv, { keyLengths: [0, 4] }).toTypedArray();
    expect(Array.from(out.subarray(0, 24)).every((x) => x === 0)).toBe(true);
    expect(out.subarray(24).some((x) => x !== 0)).toBe(true);
    // causal with fewer keys than queries: the first T - S queries see nothing
    const c = qkv.scaledDotProductAttention(tq, tk, tv, { causal: true }).toTypedArray();
    expect(Array.from(c).every(Number.isFinite)).toBe(true);
    expect(Array.from(c.subarray(0, 8)).every((x) => x === 0)).toBe(true);
    // their gradient is zero too
    const q = tq.detach(); q.requiresGrad = true;
    qkv.sum(qkv.scaledDotProductAttention(q, tk, tv, { keyLengths: [0, 4] })).backward();
    expect(Array.from(q.grad!.toTypedArray()).every(Number.isFinite)).toBe(true);
  });

  it('dropout: the tiled kernel matches the reference kernel mask for mask, and the seed decides it', () => {
    const { tq, tk, tv } = inputs([1, 2, 70, 150, 8, 8], 4);
    const o = { causal: true, dropout: 0.3, seed: 77 };
    const a = qkv.scaledDotProductAttention(tq, tk, tv, o).toTypedArray();
    expectClose(a, qkv.attentionReference(tq, tk, tv, o).toTypedArray(), 2e-5, 2e-5, 'dropout');
    const b = qkv.scaledDotProductAttention(tq, tk, tv, { ...o, seed: 78 }).toTypedArray();
    expect(Array.from(a)).not.toEqual(Array.from(b));
    const none = qkv.scaledDotProductAttention(tq, tk, tv, { causal: true }).toTypedArray();
    expect(Array.from(a)).not.toEqual(Array.from(none));
  });

  it('gradients over several query and key blocks match the explicit composition (float64), masked blocks included', () => {
    // The kernel writes each block of dQ, dK and dV with its first contribution and zeroes the
    // blocks no query sees: freed NaN-filled buffers of the gradients' sizes come first, so that a
    // block left unwritten shows.
    const cases: { dims: Dims; causal?: boolean; keyLengths?: number[] }[] = [
      { dims: [1, 2, 150, 300, 16, 16], causal: true },
      { dims: [1, 1, 131, 259, 8, 5], keyLengths: [200] },           // keys 256.. in no one's view
      { dims: [2, 1, 70, 140, 8, 8], causal: true, keyLengths: [140, 60] },
    ];
    for (const [n, c] of cases.entries()) {
      const [B, H, T, S, Dh, Dv] = c.dims;
      const { q, k, v } = inputs(c.dims, 40 + n, 'float64');
      const R = qkv.Tensor.from(randomRef([B, H, T, Dv], 50 + n).data, [B, H, T, Dv]);
      const grads = (fused: boolean) => {
        const ts = [[q.data, [B, H, T, Dh]], [k.data, [B, H, S, Dh]], [v.data, [B, H, S, Dv]]].map(([d, sh]) =>
          qkv.Tensor.from(d as Float64Array, sh as number[], { requiresGrad: true }));
        let out: qkv.Tensor;
        if (fused) {
          for (const sh of [[B, H, T, Dh], [B, H, S, Dh], [B, H, S, Dv]]) qkv.full(sh, NaN, { dtype: 'float64' }).dispose();
          out = qkv.scaledDotProductAttention(ts[0], ts[1], ts[2], { causal: c.causal, keyLengths: c.keyLengths });
        } else {
          const mask = new Float64Array(B * T * S);
          for (let b = 0; b < B; b++)
            for (let i = 0; i < T; i++)
              for (let j = 0; j < S; j++) {
                const len = c.keyLengths ? c.keyLengths[b] : S, last = c.causal ? Math.min(len, i + S - T + 1) : len;
                mask[(b * T + i) * S + j] = j < last ? 0 : -1e30;
              }
          const scores = qkv.add(qkv.mul(qkv.matmul(ts[0], ts[1].transpose(2, 3)), 1 / Math.sqrt(Dh)), qkv.Tensor.from(mask, [B, 1, T, S]));
          out = qkv.matmul(qkv.softmax(scores), ts[2]);
        }
        qkv.sum(qkv.mul(out, R)).backward();
        return ts.map((t) => t.grad!.toTypedArray());
      };
      const [got, want] = [grads(true), grads(false)];
      for (let i = 0; i < 3; i++) expectClose(got[i], want[i], 1e-10, 1e-12, `case ${n} grad ${'qkv'[i]}`);
    }
  });

  it('gradients match finite differences (float64), with masks and with dropout', () => {
    for (const [n, opts] of [{}, { causal: true }, { keyLengths: [5, 2] }, { causal: true, dropout: 0.25, seed: 9 }].entries()) {
      const dims: Dims = [2, 1, 4, 5, 3, 2];
      const { q, k, v } = inputs(dims, 20 + n, 'float64');
      const shapes = [[2, 1, 4, 3], [2, 1, 5, 3], [2, 1, 5, 2]];
      const datas = [q.data, k.data, v.data];
      const R = qkv.Tensor.from(randomRef([2, 1, 4, 2], 99).data, [2, 1, 4, 2]);
      const loss = (ds: Float64Array[], grad: boolean) => {
        const ts = ds.map((d, i) => qkv.Tensor.from(d, shapes[i], { requiresGrad: grad }));
        return { ts, l: qkv.sum(qkv.mul(qkv.scaledDotProductAttention(ts[0], ts[1], ts[2], opts), R)) };
      };
      const { ts, l } = loss(datas, true);
      l.backward();
      for (let i = 0; i < 3; i++) {
        const num = new Float64Array(datas[i].length);
        for (let j = 0; j < num.length; j++) {
          const p = datas.map((d) => d.slice()), m = datas.map((d) => d.slice());
          p[i][j] += 1e-6;
          m[i][j] -= 1e-6;
          num[j] = (loss(p, false).l.item() - loss(m, false).l.item()) / 2e-6;
        }
        expectClose(ts[i].grad!.toTypedArray(), num, 1e-5, 1e-7, `attention grad ${JSON.stringify(opts)} input ${i}`);
      }
    }
  });

  it('checks shapes and options', () => {
    const { tq, tk, tv } = inputs([1, 2, 4, 5, 3, 2], 5);
    expect(() => qkv.scaledDotProductAttention(tq, tq, tv)).toThrow(/scaledDotProductAttention: shapes do not fit/);
    expect(() => qkv.scaledDotProductAttention(tq.reshape([2, 4, 3]), tk, tv)).toThrow(RangeError);
    expect(() => qkv.scaledDotProductAttention(tq, tk, tv, { keyLengths: [6] })).toThrow(/keyLengths entry 6 is outside \[0, 5\]/);
    expect(() => qkv.scaledDotProductAttention(tq, tk, tv, { keyLengths: [1, 2] })).toThrow(/keyLengths must have 1 entries/);
    expect(() => qkv.scaledDotProductAttention(tq, tk, tv, { dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
    expect(() => qkv.scaledDotProductAttention(tq, tk, 'v' as never)).toThrow(TypeError);
  });
});
