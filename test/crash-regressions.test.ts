// Regression tests for the ways a hostile caller could once crash the process. Each reproducer runs
// in a child process, so that a crash fails the test instead of the test runner.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const entry = JSON.stringify(path.join(__dirname, '../src/index.ts'));

// Runs `body` (CommonJS, with `qkv` in scope, inside an async function) in a child process; the
// child prints one JSON line with what `body` returned.
function runChild(body: string, timeoutMs = 60_000): { status: number | null; signal: string | null; result: unknown; stderr: string } {
  const script = `
    const qkv = require(${entry});
    (async () => { ${body} })().then(
      (r) => { process.stdout.write('\\n' + JSON.stringify(r ?? null) + '\\n'); },
      (e) => { process.stdout.write('\\n' + JSON.stringify({ uncaught: String(e && e.stack || e) }) + '\\n'); process.exitCode = 3; });
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: timeoutMs });
  const lines = (r.stdout ?? '').trim().split('\n');
  let result: unknown = undefined;
  try {
    result = JSON.parse(lines[lines.length - 1]);
  } catch {
    /* no result: the child crashed; status/signal say how */
  }
  return { status: r.status, signal: r.signal, result, stderr: r.stderr ?? '' };
}

// The error a call threw, as { name, code, message }.
const describeErrors = `
  const caught = (fn) => { try { fn(); return { ok: true }; } catch (e) { return { name: e && e.name, code: e && e.code, message: String(e && e.message) }; } };
  const caughtAsync = async (fn) => { try { await fn(); return { ok: true }; } catch (e) { return { name: e && e.name, code: e && e.code, message: String(e && e.message) }; } };
`;

describe('typed arrays over a SharedArrayBuffer', () => {
  it('Tensor.from copies float32, float64 and int32 views (also at an offset) instead of crashing', () => {
    const r = runChild(`
      const out = {};
      for (const [name, Ctor] of [['float32', Float32Array], ['float64', Float64Array], ['int32', Int32Array]]) {
        const sab = new SharedArrayBuffer(8 * Ctor.BYTES_PER_ELEMENT);
        const view = new Ctor(sab);
        for (let i = 0; i < 8; i++) view[i] = i * 3 - 5;
        const whole = qkv.Tensor.from(view, [2, 4]);
        const tail = qkv.Tensor.from(new Ctor(sab, 2 * Ctor.BYTES_PER_ELEMENT, 4), [4]);
        view[0] = 100;  // a copy: later writes to the shared memory do not reach the tensor
        out[name] = { dtype: whole.dtype, whole: Array.from(whole.toTypedArray()), tail: Array.from(tail.toTypedArray()) };
      }
      return out;
    `);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const expected = { whole: [-5, -2, 1, 4, 7, 10, 13, 16], tail: [1, 4, 7, 10] };
    expect(r.result).toEqual({
      float32: { dtype: 'float32', ...expected },
      float64: { dtype: 'float64', ...expected },
      int32: { dtype: 'int32', ...expected },
    });
  });
});

describe('getters and Proxies that throw while qkv reads an argument', () => {
  it('propagate the thrown error unchanged, and the process lives on', () => {
    const r = runChild(`
      ${describeErrors}
      const boom = () => { throw new Error('boom from a getter'); };
      const throwingObject = () => new Proxy({}, { get: boom, has: boom, ownKeys: boom, getOwnPropertyDescriptor: boom });
      const shapeWithGetter = () => { const s = [2, 3]; Object.defineProperty(s, 1, { get: boom }); return s; };
      const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'qkv-getter-'));
      const w = qkv.zeros([2, 2]);
      const results = {
        linearInit: caught(() => new qkv.nn.Linear(4, 3, { init: { get kind() { boom(); } } })),
        embeddingInit: caught(() => new qkv.nn.Embedding(10, 4, { init: { get kind() { boom(); } } })),
        mlpInit: caught(() => new qkv.nn.MLP(4, [8], 2, { init: { get kind() { boom(); } } })),
        linearOptions: caught(() => new qkv.nn.Linear(4, 3, throwingObject())),
        adamBetas: caught(() => new qkv.optim.AdamW(new qkv.nn.Linear(2, 2), { get betas() { boom(); } })),
        adamBetaElement: caught(() => { const b = [0.9, 0.99]; Object.defineProperty(b, 0, { get: boom }); return new qkv.optim.AdamW(new qkv.nn.Linear(2, 2), { betas: b }); }),
        zeros: caught(() => qkv.zeros(shapeWithGetter())),
        ones: caught(() => qkv.ones(shapeWithGetter())),
        full: caught(() => qkv.full(shapeWithGetter(), 1)),
        randn: caught(() => qkv.randn(shapeWithGetter())),
        rand: caught(() => qkv.rand(shapeWithGetter())),
        from: caught(() => qkv.Tensor.from(new Float32Array(6), shapeWithGetter())),
        reshape: caught(() => qkv.reshape(qkv.zeros([6]), shapeWithGetter())),
        permute: caught(() => { const d = [1, 0]; Object.defineProperty(d, 0, { get: boom }); return qkv.permute(qkv.zeros([2, 3]), d); }),
        saveMetadataProxy: await caughtAsync(() => new qkv.nn.Linear(2, 2).save(dir + '/a.safetensors', { metadata: throwingObject() })),
        safetensorsMetadataValue: await caughtAsync(() => qkv.saveSafetensors(dir + '/b.safetensors', { w }, { metadata: { get note() { boom(); } } })),
        safetensorsTensorsProxy: await caughtAsync(() => qkv.saveSafetensors(dir + '/c.safetensors', throwingObject())),
      };
      // Still healthy afterwards.
      results.after = Array.from(qkv.matmul(qkv.ones([1, 2]), qkv.ones([2, 1])).toTypedArray());
      return results;
    `);
    expect(r.stderr).not.toContain('FATAL');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const results = r.result as Record<string, { name?: string; message?: string; ok?: boolean }>;
    const { after, ...calls } = results;
    expect(after).toEqual([2]);
    for (const [name, e] of Object.entries(calls)) {
      // The caller's own error comes back, not an error of qkv's thrown on top of it.
      expect({ name, message: e.message }).toEqual({ name, message: 'boom from a getter' });
    }
    expect(Object.keys(calls).length).toBe(17);
  });
});

describe('worker threads', () => {
  it('terminating workers in the middle of async ops, random tensors and saves leaves the process running', () => {
    const r = runChild(`
      const { Worker } = require('node:worker_threads');
      const os = require('node:os'), fs = require('node:fs'), p = require('node:path');
      const dir = fs.mkdtempSync(p.join(os.tmpdir(), 'qkv-worker-'));
      const loops = {
        matmul: 'for (;;) { const a = qkv.randn([96, 96]); await qkv.matmulAsync(a, a); a.dispose(); }',
        save: 'for (let i = 0; ; i++) await qkv.saveSafetensors(dir + "/w" + (i % 3) + ".safetensors", { w: qkv.randn([256, 256]) });',
        fit: 'const m = new qkv.nn.MLP(16, [32], 4); const x = qkv.randn([256, 16]); const y = qkv.Tensor.from(new Int32Array(256).map((_, i) => i % 4), [256]); for (;;) await m.fit({ inputs: x, targets: y }, { epochs: 50, batchSize: 8 });',
      };
      let terminated = 0;
      for (let round = 0; round < 3; round++) {
        for (const [name, loop] of Object.entries(loops)) {
          const code = 'require("tsx/cjs"); const qkv = require(' + JSON.stringify(${entry}) + '); const dir = ' + JSON.stringify(dir) + ';' +
            '(async () => { require("node:worker_threads").parentPort.postMessage("started"); ' + loop + ' })();';
          const w = new Worker(code, { eval: true });
          await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
          await new Promise((resolve) => setTimeout(resolve, 50 + 40 * round));
          await w.terminate();
          terminated++;
        }
      }
      // The main thread's qkv still works.
      const a = qkv.ones([3, 3]);
      const sum = Array.from((await qkv.matmulAsync(a, a)).toTypedArray()).reduce((s, v) => s + v, 0);
      return { terminated, sum };
    `, 120_000);
    expect(r.stderr).not.toContain('FATAL');
    expect(r.signal, `the child's stderr: ${r.stderr.slice(-4000)}`).toBeNull();
    expect(r.status).toBe(0);
    expect(r.result).toEqual({ terminated: 9, sum: 27 });
  });

  // Terminating a worker while a qkv call is making its result once dereferenced a null handle
  // (a tensor wrapped while JavaScript could no longer run) or handed an uninitialised promise back
  // to JavaScript (a job started then). Tight loops land the termination inside those calls: the
  // old binding crashed in most runs of this test.
  it('terminating workers inside tight loops of tensor creation and job starts leaves the process running', () => {
    const r = runChild(`
      const { Worker } = require('node:worker_threads');
      const loops = {
        create: 'for (;;) { const t = qkv.randn([4]); t.toTypedArray(); qkv.zeros([2]); t.dispose(); }',
        jobs: 'const a = qkv.ones([4, 4]); const m = new qkv.nn.MLP(4, [4], 2); const x = qkv.randn([8, 4]); const y = qkv.Tensor.from(new Int32Array(8).map((_, i) => i % 2), [8]);' +
          '(async () => { for (;;) { const ps = []; for (let i = 0; i < 20; i++) ps.push(m.fit({ inputs: x, targets: y }, { epochs: 1, batchSize: 8 }), qkv.matmulAsync(a, a)); await Promise.all(ps); } })();',
      };
      let terminated = 0;
      for (let round = 0; round < 12; round++) {
        for (const loop of Object.values(loops)) {
          const code = 'require("tsx/cjs"); const qkv = require(' + JSON.stringify(${entry}) + ');' +
            'require("node:worker_threads").parentPort.postMessage("started"); ' + loop;
          const w = new Worker(code, { eval: true });
          await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
          await new Promise((resolve) => setTimeout(resolve, 5 + ((round * 7) % 20)));
          await w.terminate();
          terminated++;
        }
      }
      return { terminated };
    `, 120_000);
    expect(r.signal, `the child's stderr: ${r.stderr.slice(-4000)}`).toBeNull();
    expect(r.status).toBe(0);
    expect(r.result).toEqual({ terminated: 24 });
  });
});

describe('tensors of a model that is training', () => {
  it('refuse access with ERR_BUSY while fit runs, and work again once it settles', () => {
    const r = runChild(`
      ${describeErrors}
      const model = new qkv.nn.MLP(16, [64], 4);
      const params = model.parameters();
      const x = qkv.randn([512, 16], { seed: 1 });
      const y = qkv.Tensor.from(new Int32Array(512).map((_, i) => i % 4), [512]);
      // A loss built from the parameters before fit, and a gradient handle held from before.
      const early = qkv.sum(model.forward(x));
      early.backward(null, { retainGraph: true });
      const heldGrad = params[0].grad;
      const other = new qkv.optim.SGD(model, { lr: 0.1 });
      const running = model.fit({ inputs: x, targets: y }, { epochs: 30, batchSize: 4 });
      const during = {
        readGrad: caught(() => params[0].grad),
        writeGrad: caught(() => { params[0].grad = qkv.zeros(params[0].shape); }),
        heldGrad: caught(() => heldGrad.toTypedArray()),
        readData: caught(() => params[1].toTypedArray()),
        useInOp: caught(() => qkv.add(params[0], 1)),
        backward: caught(() => early.backward(null, { retainGraph: true })),
        secondOptimizer: caught(() => other.step()),
        secondZeroGrad: caught(() => other.zeroGrad()),
      };
      await running;
      const after = {
        readGrad: caught(() => params[0].grad),
        readData: caught(() => params[1].toTypedArray()),
        step: caught(() => other.step()),
      };
      return { during, after, shape: params[0].shape };
    `);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const { during, after } = r.result as Record<string, Record<string, { ok?: boolean; name?: string; code?: string; message?: string }>>;
    for (const [call, e] of Object.entries(during)) {
      expect({ call, code: e.code }).toEqual({ call, code: 'ERR_BUSY' });
      expect(e.message).toMatch(/running job/);
    }
    for (const [call, e] of Object.entries(after)) expect({ call, ...e }).toEqual({ call, ok: true });
  });
});
