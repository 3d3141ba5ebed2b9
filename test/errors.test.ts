// Bad input gets a clear thrown error naming the call: TypeError for wrong types, RangeError for
// shapes, axes and indices, QkvError for the rest. Never a crash.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
      [() => qkv.setThreads(0), /setThreads: threads must be in \[1, 256\]/],
      [() => qkv.arange(0, 1, 0), /arange: .*step non-zero/],
      [() => qkv.zeros([1 << 20, 1 << 20, 1 << 20]), /^zeros: shape \[1048576, 1048576, 1048576\] is too large/],
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

  // Each cause of an error naming another call than the one made (the hostile sweep's "wrong"
  // class), once: the message names the call.
  describe('errors name the call made, not an inner one', () => {
    const disposed = () => {
      const t = t23();
      t.dispose();
      return t;
    };
    const linear = async () => {
      const m = new qkv.nn.Linear(3, 2);
      await m.dispose();
      return m;
    };

    it('a Tensor (or a module) where options go is a TypeError, not options read through its getters', () => {
      for (const [fn, re] of [
        [() => qkv.zeros([2], disposed() as never), /^zeros: options must be an object, got a Tensor$/],
        [() => qkv.arange(0, 3, 1, t23() as never), /^arange: options must be an object, got a Tensor$/],
        [() => new qkv.nn.Linear(3, 2, disposed() as never), /^nn\.Linear: options must be an object|^Linear: options must be an object/],
      ] as [() => unknown, RegExp][]) {
        const e = thrown(fn);
        expect(e, re.source).toBeInstanceOf(TypeError);
        expect(e.message).toMatch(re);
      }
    });

    it('shapes too large name the creation function (checked before the core\'s own "empty")', () => {
      for (const [fn, re] of [
        [() => qkv.full([2 ** 31, 2 ** 31], 1), /^full: shape \[2147483648, 2147483648\] is too large/],
        [() => qkv.randn([2 ** 31, 2 ** 31]), /^randn: shape/],
        [() => qkv.arange(0, 2 ** 53), /^arange: .* is too large/],
      ] as [() => unknown, RegExp][]) {
        const e = thrown(fn);
        expect(e).toBeInstanceOf(RangeError);
        expect(e.message).toMatch(re);
      }
      expect(qkv.zeros([0, 2 ** 50]).shape).toEqual([0, 2 ** 50]);
    });

    it('mean names mean (not the sum it is built on)', () => {
      const e = thrown(() => qkv.mean(t23(), 2 ** 31));
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toMatch(/^mean: axis 2147483648 is out of range/);
    });

    it('a disposed module\'s getters and methods name its class, not the native call', async () => {
      const m = await linear();
      for (const fn of [() => m.weight, () => m.parameters(), () => m.stateDict(), () => m.eval(), () => m.parameter('weight'), () => m.type]) {
        const e = thrown(fn) as qkv.QkvError;
        expect(e.code).toBe('ERR_DISPOSED');
        expect(e.message).toBe('Linear: the model is disposed');
      }
      expect(String(m)).toBe('Linear(disposed)');
      const seq = new qkv.nn.Sequential(new qkv.nn.Linear(2, 2));
      await seq.dispose();
      expect(thrown(() => seq.length).message).toBe('Sequential: the model is disposed');
    });

    it('tensors read in JavaScript name the call when disposed', () => {
      for (const [fn, re] of [
        [() => qkv.plot.attention(disposed()), /^plot\.attention: weights is a disposed Tensor$/],
        [() => qkv.optim.decayMatricesOnly('w', disposed()), /^decayMatricesOnly: param is a disposed Tensor$/],
      ] as [() => unknown, RegExp][]) {
        const e = thrown(fn) as qkv.QkvError;
        expect(e.code).toBe('ERR_DISPOSED');
        expect(e.message).toMatch(re);
      }
      expect(thrown(() => qkv.optim.decayMatricesOnly('w', undefined as never))).toBeInstanceOf(TypeError);
    });

    it('fit({ schedule }) names fit', async () => {
      const m = new qkv.nn.Linear(2, 1);
      const data = { inputs: qkv.zeros([2, 2]), targets: qkv.zeros([2, 1]) };
      const e = (await m.fit(data, { loss: 'mse', schedule: 5 as never }).catch((x: unknown) => x)) as Error;
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toMatch(/^fit: schedule must be a schedule from qkv\.optim\.schedule, got number$/);
      const k = (await m.fit(data, { loss: 'mse', schedule: { kind: 'x' } as never }).catch((x: unknown) => x)) as Error;
      expect(k.message).toMatch(/^fit: schedule\.kind must be/);
      await m.dispose();
    });

    it('simd.use names simd.use: an unknown level is a TypeError', () => {
      const e = thrown(() => qkv.simd.use('avx1024' as never));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toMatch(/^simd\.use: level must be 'avx512', 'avx2' or 'scalar', got 'avx1024'$/);
      qkv.simd.use(qkv.simd.level());
    });

    it('errors of the core ops a public call is built on get the call in front (class and code kept)', async () => {
      const mm = (await qkv.matmulAsync(t23(), t23()).catch((x: unknown) => x)) as Error;
      expect(mm).toBeInstanceOf(RangeError);
      expect(mm.message).toMatch(/^matmulAsync: matmul: inner dims differ/);
      const layer = new qkv.TransformerEncoderLayer({ dim: 8, heads: 2 });
      const e = thrown(() => layer.forwardWithWeights(t23()));
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toMatch(/^TransformerEncoderLayer\.forward: LayerNorm\.forward: expected an input of shape/);
      await layer.dispose();
      const mlp = thrown(() => new qkv.nn.MLP(2 ** 21, [2 ** 21], 2));
      expect(mlp).toBeInstanceOf(RangeError);
      expect(mlp.message).toMatch(/^nn\.MLP: .*too large/);
      expect(thrown(() => qkv.matmul(t23(), t23())).message).toMatch(/^matmul: inner dims differ/);
    });

    it('optimizers and gradient norms over a disposed module name the call', async () => {
      const m = await linear();
      for (const [fn, re] of [
        [() => new qkv.optim.SGD(m, { lr: 0.1 }), /^optim\.SGD: params is a disposed module$/],
        [() => new qkv.optim.AdamW(m), /^optim\.AdamW: params is a disposed module$/],
        [() => qkv.optim.gradNorm(m), /^gradNorm: params is a disposed module$/],
      ] as [() => unknown, RegExp][]) {
        const e = thrown(fn) as qkv.QkvError;
        expect(e.code).toBe('ERR_DISPOSED');
        expect(e.message).toMatch(re);
      }
    });

    it('generateDates({ exclude }) and plot.attention refuse detached and empty inputs naming the call', () => {
      const b = new ArrayBuffer(8);
      const detached = new Uint8Array(b);
      structuredClone(b, { transfer: [b] });
      const d = thrown(() => qkv.data.generateDates(2, { exclude: detached as never }));
      expect(d).toBeInstanceOf(TypeError);
      expect(d.message).toMatch(/^generateDates: option exclude is an Uint8Array over a detached ArrayBuffer$/);
      const p = thrown(() => qkv.plot.attention(qkv.zeros([0, 3])));
      expect(p).toBeInstanceOf(RangeError);
      expect(p.message).toMatch(/^plot\.attention: a weights tensor must be 2-D/);
    });

    it('internal checks are not exported from qkv.optim', () => {
      expect(Object.keys(qkv.optim)).not.toContain('checkOptimizer');
    });

    it('new QkvError checks its arguments instead of converting them', () => {
      const b = new ArrayBuffer(8);
      const detached = new Float32Array(b);
      structuredClone(b, { transfer: [b] });
      for (const bad of [Symbol('s'), detached, 5]) {
        const e = thrown(() => new qkv.QkvError(bad as never, 'ERR_IO'));
        expect(e).toBeInstanceOf(TypeError);
        expect(e.message).toMatch(/^QkvError: message must be a string/);
      }
      expect(new qkv.QkvError('m', 'ERR_IO').code).toBe('ERR_IO');
    });

    it('word2vec: detached typed arrays and corrupt evaluation files name the call', async () => {
      const model = await qkv.Word2Vec.train([['a', 'b', 'c'], ['b', 'c', 'd']], { dim: 4, minCount: 1, epochs: 1, threads: 1, seed: 1 });
      const b = new ArrayBuffer(16);
      const detached = new Float32Array(b);
      structuredClone(b, { transfer: [b] });
      const train = (await qkv.Word2Vec.train(detached as never).catch((x: unknown) => x)) as Error;
      expect(train).toBeInstanceOf(TypeError);
      expect(train.message).toMatch(/^Word2Vec\.train: input is a Float32Array over a detached ArrayBuffer$/);
      const query = (await model.mostSimilarAsync(detached).catch((x: unknown) => x)) as Error;
      expect(query.message).toMatch(/^Word2Vec\.mostSimilarAsync: query is a Float32Array over a detached/);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-errors-'));
      const bad = path.join(dir, 'bad.txt');
      fs.writeFileSync(bad, 'not a pair\n');
      const pairs = (await model.evaluateWordPairs(bad).catch((x: unknown) => x)) as qkv.QkvError;
      expect(pairs.code).toBe('ERR_FORMAT');
      expect(pairs.message).toMatch(/^Word2Vec\.evaluateWordPairs: '.*bad\.txt': line 1/);
      const analogies = (await model.evaluateAnalogies(bad).catch((x: unknown) => x)) as qkv.QkvError;
      expect(analogies.message).toMatch(/^Word2Vec\.evaluateAnalogies: '.*bad\.txt': line 1/);
      fs.rmSync(dir, { recursive: true });
      await model.dispose();
    });

    it('aborting word2vec training with calls queued behind it leaves no unhandled rejection', () => {
      // In a plain child process: the test runner's own handlers would see the event first.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-abort-'));
      const script = path.join(dir, 'abort.ts');
      fs.writeFileSync(script, `
        import * as qkv from ${JSON.stringify(path.join(__dirname, '../src/index'))};
        process.on('unhandledRejection', (e) => console.log('unhandled: ' + (e as Error).message));
        (async () => {
          const model = await qkv.Word2Vec.train([['a', 'b', 'c'], ['b', 'c', 'd']], { dim: 4, minCount: 1, epochs: 1, threads: 1, seed: 1 });
          const ac = new AbortController();
          const run = model.train(Array.from({ length: 20_000 }, () => ['a', 'b', 'c']), { epochs: 1000, threads: 1, signal: ac.signal }).catch((e) => e.code);
          const queued = model.evaluateAnalogies([['a', 'b', 'c', 'd']]).catch((e) => e.message);
          await new Promise((r) => setTimeout(r, 50));
          ac.abort();
          console.log('train: ' + (await run));
          await queued;
          await model.dispose();
        })();
      `);
      const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
      fs.rmSync(dir, { recursive: true });
      expect(r.stdout.trim()).toBe('train: ERR_ABORTED');
      expect(r.status).toBe(0);
    });
  });
});
