// Bad input gets a clear thrown error naming the call: TypeError for wrong types, RangeError for
// shapes, axes and indices, QkvError for the rest. Never a crash.
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const t23 = () => qkv.randn([2, 3], { seed: 1 });
const ids = (v: number[]) => qkv.Tensor.from(Int32Array.from(v));

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('errors', () => {
  it('wrong argument types throw TypeError naming the call', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => qkv.matmul(t23(), [1, 2] as never), /matmul: b must be a Tensor/],
      [() => qkv.add('x' as never, t23()), /add: operands must be Tensors or numbers/],
      [() => qkv.exp(null as never), /exp: input must be a Tensor/],
      [() => qkv.Tensor.from('abc' as never), /Tensor\.from/],
      [() => qkv.Tensor.from(new Uint8Array(3) as never), /Tensor\.from/],
      [() => qkv.zeros('3' as never), /zeros: shape must be an array/],
      [() => qkv.zeros([2], { dtype: 'float16' as never }), /zeros: dtype must be/],
      [() => qkv.randn([2], { seed: '1' as never }), /randn: option seed must be an integer, got string/],
      [() => qkv.add(t23(), ids([1, 2, 3])), /add: dtypes differ \(float32 and int32\)/],
      [() => qkv.div(ids([1]), ids([2])), /div: not defined for int32/],
      [() => qkv.exp(ids([1])), /exp: needs a float32 or float64 tensor, got int32/],
      [() => qkv.embedding(t23(), t23()), /embedding: ids must be int32/],
      [() => qkv.crossEntropy(t23(), t23()), /crossEntropy: targets must be int32/],
      [() => qkv.gelu(t23(), { approximate: 'fast' as never }), /gelu: option approximate/],
      [() => qkv.sum(t23(), 'x' as never), /sum: axis/],
      [() => qkv.matmul(ids([1, 2]), ids([1, 2])), /matmul: needs float32 or float64/],
      [() => qkv.concat(t23() as never), /concat: tensors must be an array/],
      [() => qkv.concat([t23(), 5 as never]), /concat: tensors\[1\] must be a Tensor/],
    ];
    for (const [fn, re] of cases) {
      const e = thrown(fn);
      expect(e, re.source).toBeInstanceOf(TypeError);
      expect(e.message).toMatch(re);
    }
  });

  it('wrong shapes, axes and indices throw RangeError naming the op and the shapes', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => qkv.matmul(t23(), t23()), /matmul: inner dims differ: \[2, 3\] x \[2, 3\]/],
      [() => qkv.matmul(qkv.zeros([2, 2, 3]), qkv.zeros([3, 3, 4])), /matmul: shapes \[2\] and \[3\] cannot be broadcast/],
      [() => qkv.add(t23(), qkv.zeros([3, 2])), /add: shapes \[2, 3\] and \[3, 2\] cannot be broadcast/],
      [() => qkv.sum(t23(), 2), /sum: axis 2 is out of range for a tensor with 2 dims/],
      [() => qkv.softmax(qkv.zeros([])), /softmax: needs at least 1 dim/],
      [() => t23().transpose(0, 5), /transpose: axis 5 is out of range/],
      [() => t23().reshape([4, 2]), /reshape: cannot reshape \[2, 3\] .* into \[4, 2\]/],
      [() => t23().permute([0, 0]), /permute: repeated dim/],
      [() => qkv.Tensor.from(new Float32Array(5), [2, 3]), /Tensor\.from: shape \[2, 3\] needs 6 elements, the data has 5/],
      [() => qkv.zeros([-1]), /zeros: shape\[0\] must be an integer >= 0, got -1/],
      [() => qkv.randn([2], { seed: -1 }), /randn: option seed must be an integer >= 0, got -1/],
      [() => qkv.embedding(t23(), ids([0, 2])), /embedding: index 2 at position 1 is out of range for a weight of shape \[2, 3\]/],
      [() => qkv.crossEntropy(t23(), ids([0, 7])), /crossEntropy: target 7 at row 1 is out of range for 3 classes/],
      [() => qkv.crossEntropy(t23(), ids([0])), /crossEntropy: targets must have shape \[2\]/],
      [() => qkv.layerNorm(t23(), qkv.zeros([2]), null), /layerNorm: gamma must have shape \[3\]/],
      [() => qkv.argmax(qkv.zeros([2, 0]), 1), /argmax: cannot reduce over an empty axis/],
      [() => qkv.concat([]), /concat: needs at least one tensor/],
      [() => qkv.simd.use('avx1024' as never), /setSimdLevel/],
      [() => qkv.setThreads(0), /setThreads: threads must be in \[1, 256\]/],
      [() => qkv.arange(0, 1, 0), /arange: .*step non-zero/],
      [() => qkv.zeros([1 << 20, 1 << 20, 1 << 20]), /empty: shape .* is too large/],
    ];
    for (const [fn, re] of cases) {
      const e = thrown(fn);
      expect(e, re.source).toBeInstanceOf(RangeError);
      expect(e.message).toMatch(re);
    }
  });

  it('QkvError carries a code and is an Error', () => {
    const t = t23();
    t.dispose();
    const e = thrown(() => qkv.relu(t)) as qkv.QkvError;
    expect(e).toBeInstanceOf(qkv.QkvError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('QkvError');
    expect(e.code).toBe('ERR_DISPOSED');
    expect(e.message).toBe('relu: input is a disposed Tensor');
  });

  it('survives garbage thrown at every exported function (throws or rejects, never crashes)', async () => {
    const garbage: unknown[] = [undefined, null, 0, -1, NaN, 1e300, 'str', {}, [], [[1]], Symbol('s'), () => 1, new Float32Array(2), 10n];
    let calls = 0;
    const pending: Promise<unknown>[] = [];
    const checkError = (e: unknown) => {
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).message.length).toBeGreaterThan(5);
    };
    for (const [name, fn] of Object.entries(qkv)) {
      if (typeof fn !== 'function' || /^[A-Z]/.test(name) || name === 'setThreads') continue;
      for (const a of garbage)
        for (const b of [undefined, ...garbage.slice(0, 6)]) {
          calls++;
          try {
            const r = (fn as (...args: unknown[]) => unknown)(a, b);
            if (r instanceof qkv.Tensor) r.dispose();
            if (r instanceof Promise) pending.push(r.then((v) => (v instanceof qkv.Tensor ? v.dispose() : v), checkError));
          } catch (e) {
            checkError(e);
          }
        }
    }
    await Promise.all(pending);
    expect(calls).toBeGreaterThan(500);
  });

  it('word2vec names the call when its corpus file cannot be opened', async () => {
    const e = (await qkv.Word2Vec.train('/no/such/corpus.txt', { minCount: 1 }).catch((x: unknown) => x)) as qkv.QkvError;
    expect(e).toBeInstanceOf(qkv.QkvError);
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toMatch(/^Word2Vec\.train: cannot open '\/no\/such\/corpus\.txt'/);
  });

  it('training word2vec on an in-memory array leaves the event loop free (timers fire, abort works)', async () => {
    const model = await qkv.Word2Vec.train([['a', 'b', 'c'], ['b', 'c', 'd']], { dim: 4, minCount: 1, epochs: 1, threads: 1, seed: 1 });
    const ac = new AbortController();
    const sentences = Array.from({ length: 20_000 }, () => ['a', 'b', 'c']);
    const run = model.train(sentences, { epochs: 1000, threads: 1, signal: ac.signal }).catch((x: unknown) => x as qkv.QkvError);
    const t0 = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(Date.now() - t0).toBeLessThan(2000);
    ac.abort();
    expect((await run as qkv.QkvError).code).toBe('ERR_ABORTED');
    await model.dispose();
  });

  it('vocabFromJSON names itself, not tokenizerFromJSON, for corrupt JSON', () => {
    const e = thrown(() => qkv.vocabFromJSON({ kind: 'char', lowercase: 1 })) as qkv.QkvError;
    expect(e.code).toBe('ERR_FORMAT');
    expect(e.message).toMatch(/^vocabFromJSON: a corrupt char tokenizer/);
  });
});
