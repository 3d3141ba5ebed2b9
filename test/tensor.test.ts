import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

describe('Tensor', () => {
  it('round-trips typed arrays of each dtype with shape, strides and device', () => {
    const f32 = qkv.Tensor.from(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect(f32.shape).toEqual([2, 3]);
    expect(f32.strides).toEqual([3, 1]);
    expect(f32.dtype).toBe('float32');
    expect(f32.device).toBe(process.env.QKV_DEVICE_GUARD === '1' ? 'guarded' : 'cpu');
    expect(f32.size).toBe(6);
    expect(f32.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const f64 = qkv.Tensor.from(new Float64Array([0.1, 1e300]));
    expect(f64.dtype).toBe('float64');
    expect(Array.from(f64.toTypedArray())).toEqual([0.1, 1e300]);
    const i32 = qkv.Tensor.from([1, -2, 2147483647], [3], { dtype: 'int32' });
    expect(i32.toTypedArray()).toBeInstanceOf(Int32Array);
    expect(Array.from(i32.toTypedArray())).toEqual([1, -2, 2147483647]);
    expect(i32.toFloat32Array()).toBeInstanceOf(Float32Array);
    expect(qkv.Tensor.from([2.5], []).item()).toBe(2.5);
    expect(qkv.Tensor.from([2.5], []).toArray()).toBe(2.5);
  });

  it('copies its input: later writes to the source do not leak in', () => {
    const src = new Float32Array([1, 2, 3]);
    const t = qkv.Tensor.from(src);
    src[0] = 99;
    expect(t.toArray()).toEqual([1, 2, 3]);
    // a subarray view with a byte offset is read from its offset
    const big = new Float32Array([9, 9, 1, 2, 9]);
    expect(qkv.Tensor.from(big.subarray(2, 4)).toArray()).toEqual([1, 2]);
  });

  it('creates zeros, ones, full, arange, randn and rand with seeds', () => {
    expect(qkv.zeros([2, 2]).toArray()).toEqual([[0, 0], [0, 0]]);
    expect(qkv.ones([3], { dtype: 'int32' }).toArray()).toEqual([1, 1, 1]);
    expect(qkv.full([2], 7.5, { dtype: 'float64' }).toArray()).toEqual([7.5, 7.5]);
    expect(qkv.arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(qkv.arange(1, 2, 0.25, { dtype: 'float64' }).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(qkv.arange(5, 0, -2, { dtype: 'int32' }).toArray()).toEqual([5, 3, 1]);
    const a = qkv.randn([1000], { seed: 42 }).toFloat32Array();
    const b = qkv.randn([1000], { seed: 42 }).toFloat32Array();
    const c = qkv.randn([1000], { seed: 43 }).toFloat32Array();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(sd - 1)).toBeLessThan(0.1);
    const scaled = qkv.randn([20000], { seed: 1, mean: 3, std: 0.5, dtype: 'float64' }).toFloat32Array();
    expect(scaled.reduce((s, x) => s + x, 0) / scaled.length).toBeCloseTo(3, 1);
    const u = qkv.rand([10000], { seed: 5, low: -2, high: 2 }).toFloat32Array();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(2);
  });

  it('makes views that share memory: reshape, transpose, permute, slice', () => {
    const t = qkv.arange(24, undefined, 1, { dtype: 'float32' }).reshape([2, 3, 4]);
    const tt = t.transpose(0, 2);
    expect(tt.shape).toEqual([4, 3, 2]);
    expect(tt.strides).toEqual([1, 4, 12]);
    expect(tt.isContiguous()).toBe(false);
    expect((tt.toArray() as number[][][])[1][2][1]).toBe(21);  // t[1][2][1] = 1*12 + 2*4 + 1
    const s = t.slice(2, 1, 4, 2);
    expect(s.shape).toEqual([2, 3, 2]);
    expect(s.toArray()).toEqual([[[1, 3], [5, 7], [9, 11]], [[13, 15], [17, 19], [21, 23]]]);
    expect(t.permute([1, 0, 2]).contiguous().toArray()).toEqual([
      [[0, 1, 2, 3], [12, 13, 14, 15]],
      [[4, 5, 6, 7], [16, 17, 18, 19]],
      [[8, 9, 10, 11], [20, 21, 22, 23]],
    ]);
    // a view keeps its storage alive after the source is disposed
    t.dispose();
    expect(tt.toFloat32Array()[23]).toBe(23);
    expect(t.toString()).toBe('Tensor(disposed)');
  });

  it('converts between dtypes', () => {
    const t = qkv.Tensor.from([1.7, -2.2], [2]);
    expect(t.to('int32').toArray()).toEqual([1, -2]);
    expect(t.to('float64').dtype).toBe('float64');
  });

  it('throws ERR_DISPOSED for every use of a disposed tensor, and dispose is idempotent', () => {
    const t = qkv.randn([3, 3], { seed: 1 });
    t.dispose();
    t.dispose();
    expect(t.disposed).toBe(true);
    const uses: [string, () => unknown][] = [
      ['shape', () => t.shape],
      ['toArray', () => t.toArray()],
      ['add', () => qkv.add(t, 1)],
      ['matmul', () => qkv.matmul(t, t)],
      ['reshape', () => t.reshape([9])],
      ['sum', () => t.sum()],
      ['concat', () => qkv.concat([qkv.zeros([3, 3]), t])],
    ];
    for (const [name, use] of uses) {
      let caught: unknown;
      try {
        use();
      } catch (e) {
        caught = e;
      }
      expect(caught, name).toBeInstanceOf(qkv.QkvError);
      expect((caught as qkv.QkvError).code, name).toBe('ERR_DISPOSED');
      expect((caught as Error).message, name).toMatch(/disposed/);
    }
  });

  it('frees forgotten tensors through the garbage collector (no unbounded growth)', async () => {
    const { execFileSync } = await import('node:child_process');
    // A child process allocates 2 GB in 8 MB tensors it never disposes, yielding to the event loop
    // now and then as a service would (N-API finalizers run from the loop, after the collection).
    const script = `
      const qkv = require(${JSON.stringify(require('node:path').join(__dirname, '../src/index.ts'))});
      (async () => {
        for (let i = 0; i < 256; i++) {
          qkv.zeros([2048, 1024]);
          if (i % 16 === 15) await new Promise((r) => setImmediate(r));
        }
        const rss = process.memoryUsage().rss;
        console.log(JSON.stringify({ rss }));
      })();`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
    const { rss } = JSON.parse(out.trim().split('\n').pop()!);
    expect(rss).toBeLessThan(1024 * 1024 * 1024);
  });
});
