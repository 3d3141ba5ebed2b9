// The native training loop: learning, progress, determinism, gradient accumulation, abort, NaN,
// ordering of jobs on one model and ERR_BUSY for sync calls meanwhile, evaluate and predict.
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { expectClose, rng } from './helpers/reference';

/** Points in `classes` Gaussian blobs in `dim` dimensions: a learnable classification task. */
function blobs(n: number, dim: number, classes: number, seed: number, dtype: 'float32' | 'float64' = 'float32') {
  const r = rng(seed);
  const centers = Array.from({ length: classes }, () => Array.from({ length: dim }, () => r.normal() * 2));
  const x = new Float64Array(n * dim), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r.int(classes);
    for (let d = 0; d < dim; d++) x[i * dim + d] = centers[y[i]][d] + r.normal() * 0.7;
  }
  return { inputs: qkv.Tensor.from(x, [n, dim], { dtype }), targets: qkv.Tensor.from(y) };
}

const params = (m: qkv.nn.Module) => m.parameters().map((p) => p.toTypedArray());
const errorOf = (p: Promise<unknown>) => p.then(() => null, (e: Error & { code?: string }) => e);

describe('fit', () => {
  it('learns a classification task off the event loop, reporting progress and validation results', async () => {
    const all = blobs(2500, 8, 4, 1);
    const train = { inputs: all.inputs.slice(0, 0, 2000), targets: all.targets.slice(0, 0, 2000) };
    const val = { inputs: all.inputs.slice(0, 2000), targets: all.targets.slice(0, 2000) };
    const model = new qkv.nn.MLP(8, [32], 4, { seed: 1 });
    const before = await model.evaluate(val);
    const reports: qkv.nn.TrainProgress[] = [];
    const opt = new qkv.optim.AdamW(model, { lr: 3e-3 });
    const r = await model.fit(train, { epochs: 3, batchSize: 50, optimizer: opt, validation: val, seed: 3, onProgress: (p) => reports.push(p) });
    expect(r.steps).toBe(3 * 40);
    expect(r.samples).toBe(3 * 2000);
    expect(r.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(r.epochs[2].loss).toBeLessThan(r.epochs[0].loss);
    expect(r.epochs[2].valAccuracy).toBeGreaterThan(0.9);
    expect(before.accuracy).toBeLessThan(0.6);
    const last = reports[reports.length - 1];
    expect(last).toMatchObject({ step: 120, totalSteps: 120, epoch: 3, epochEnd: true, lr: 3e-3 });
    expect(last.valAccuracy).toBe(r.epochs[2].valAccuracy);
    expect(last.gradNorm).toBeGreaterThan(0);
    expect(last.samplesPerSec).toBeGreaterThan(0);
    expect(reports.every((p, i) => i === 0 || p.step > reports[i - 1].step)).toBe(true);
    expect(opt.stepCount).toBe(120);
    const ev = await model.evaluate(val, { batchSize: 64 });
    expect(ev.accuracy).toBe(r.epochs[2].valAccuracy);
    expect(ev.loss).toBeCloseTo(r.epochs[2].valLoss!, 5);
    expect(ev.count).toBe(500);
    expect(model.training).toBe(true);  // fit and evaluate restore the mode
    const out = await model.predict(val.inputs, { batchSize: 77 });
    expect(out.shape).toEqual([500, 4]);
    const direct = qkv.noGrad(() => model.forward(val.inputs));
    expectClose(out.toTypedArray(), direct.toTypedArray(), 1e-6, 1e-6, 'predict = forward');
  });

  it('fits a regression with MSE', async () => {
    const r = rng(5);
    const n = 512, x = new Float32Array(n * 3), y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < 3; d++) x[i * 3 + d] = r.normal();
      y[i] = 2 * x[i * 3] - x[i * 3 + 1] + 0.5 * x[i * 3 + 2] + 1;
    }
    const model = new qkv.nn.Linear(3, 1, { seed: 2 });
    const data = { inputs: qkv.Tensor.from(x, [n, 3]), targets: qkv.Tensor.from(y, [n, 1]) };
    await model.fit(data, { epochs: 40, batchSize: 32, loss: 'mse', optimizer: new qkv.optim.SGD(model, { lr: 0.05, momentum: 0.9 }) });
    expectClose(model.weight.toTypedArray(), [2, -1, 0.5], 0, 1e-3, 'weights');
    expect(model.bias!.toTypedArray()[0]).toBeCloseTo(1, 3);
    expect((await model.evaluate(data, { loss: 'mse' })).loss).toBeLessThan(1e-6);
  });

  it('is deterministic for a seed (dropout included); another seed differs', async () => {
    const data = blobs(300, 5, 3, 7);
    const runOnce = async (seed: number) => {
      const m = new qkv.nn.MLP(5, [16], 3, { dropout: 0.2, seed: 4 });
      await m.fit(data, { epochs: 2, batchSize: 32, seed, optimizer: new qkv.optim.Adam(m, { lr: 1e-2 }) });
      return params(m);
    };
    const a = await runOnce(1), b = await runOnce(1), c = await runOnce(2);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('accumulating k micro-batches equals one batch of k times the size', async () => {
    const data = blobs(100, 4, 3, 8, 'float64');
    const runOnce = async (batchSize: number, accumulate: number) => {
      const m = new qkv.nn.MLP(4, [6], 3, { dtype: 'float64', layerNorm: true, seed: 5 });
      const r = await m.fit(data, { epochs: 2, batchSize, accumulate, shuffle: false, clipNorm: 0.5, optimizer: new qkv.optim.SGD(m, { lr: 0.1, momentum: 0.5 }) });
      return { p: params(m), steps: r.steps, loss: r.epochs[1].loss };
    };
    const big = await runOnce(30, 1), acc = await runOnce(10, 3);
    expect(acc.steps).toBe(big.steps);  // 4 steps per epoch: 30 + 30 + 30 + 10
    big.p.forEach((p, i) => expectClose(acc.p[i], p, 1e-12, 1e-14, `param ${i}`));
    expect(acc.loss).toBeCloseTo(big.loss, 12);
  });

  it('abort rejects with ERR_ABORTED and leaves the model usable', async () => {
    const data = blobs(20000, 32, 4, 9);
    const model = new qkv.nn.MLP(32, [256], 4, { seed: 6 });
    const opt = new qkv.optim.SGD(model, { lr: 0.01 });
    const ac = new AbortController();
    let reports = 0;
    const e = await errorOf(model.fit(data, { epochs: 100, batchSize: 16, optimizer: opt, signal: ac.signal, onProgress: () => ++reports === 1 && ac.abort() }));
    expect(e).toBeInstanceOf(qkv.QkvError);
    expect(e!.code).toBe('ERR_ABORTED');
    expect(opt.stepCount).toBeGreaterThan(0);
    expect(opt.stepCount).toBeLessThan(100 * 1250);
    expect(model.busy).toBe(false);
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
    expect(model.forward(qkv.ones([1, 32])).shape).toEqual([1, 4]);
    // Already aborted: rejects at once, nothing runs.
    const steps = opt.stepCount;
    expect(await errorOf(model.fit(data, { optimizer: opt, signal: ac.signal }))).toMatchObject({ code: 'ERR_ABORTED' });
    expect(opt.stepCount).toBe(steps);
    const r = await model.fit(blobs(64, 32, 4, 1), { optimizer: opt, batchSize: 64 });
    expect(r.steps).toBe(1);
  });

  it('a non-finite loss rejects with ERR_NAN naming the step; the model stays usable', async () => {
    const data = blobs(100, 4, 2, 10);
    const x = data.inputs.toFloat32Array();
    x[4 * 45] = Infinity;  // row 45: in the 5th batch of 10 without shuffling
    const model = new qkv.nn.MLP(4, [8], 2, { seed: 7 });
    const opt = new qkv.optim.SGD(model, { lr: 0.1 });
    const e = await errorOf(model.fit({ inputs: qkv.Tensor.from(x, [100, 4]), targets: data.targets }, { batchSize: 10, shuffle: false, optimizer: opt }));
    expect(e).toBeInstanceOf(qkv.QkvError);
    expect(e!.code).toBe('ERR_NAN');
    expect(e!.message).toMatch(/fit: the loss is NaN at step 5 \(epoch 1\)/);
    expect(opt.stepCount).toBe(4);
    expect(params(model).every((p) => p.every(Number.isFinite))).toBe(true);
    expect((await model.fit(data, { batchSize: 10, optimizer: opt })).steps).toBe(10);
    // A learning rate that blows up reports the step too.
    const lr = await errorOf(model.fit(data, { batchSize: 10, epochs: 50, loss: 'crossEntropy', optimizer: new qkv.optim.SGD(model, { lr: 1e30 }) }));
    expect(lr).toMatchObject({ code: 'ERR_NAN', message: expect.stringMatching(/at step \d+ \(epoch \d+\)/) });
  });

  it('jobs on one model run in call order; sync calls meanwhile throw ERR_BUSY', async () => {
    const data = blobs(4000, 16, 3, 11);
    const model = new qkv.nn.MLP(16, [128], 3, { seed: 8 });
    const opt = new qkv.optim.AdamW(model);
    const order: string[] = [];
    const fit = model.fit(data, { epochs: 3, batchSize: 8, optimizer: opt }).then(() => order.push('fit'));
    expect(model.busy).toBe(true);
    expect(() => model.forward(qkv.ones([1, 16]))).toThrow(expect.objectContaining({ code: 'ERR_BUSY', message: expect.stringMatching(/MLP\.forward: the MLP is in use by a running job/) }));
    expect(() => model.train()).toThrow(expect.objectContaining({ code: 'ERR_BUSY' }));
    expect(() => model.zeroGrad()).toThrow(expect.objectContaining({ code: 'ERR_BUSY' }));
    expect(() => opt.step()).toThrow(expect.objectContaining({ code: 'ERR_BUSY', message: expect.stringMatching(/AdamW optimizer is in use/) }));
    // A child of the busy model is busy too.
    const child = model.namedChildren()[0][1];
    expect(() => child.forward(qkv.ones([1, 16]))).toThrow(expect.objectContaining({ code: 'ERR_BUSY' }));
    const stepsAtPredict: number[] = [];
    const pred = model.predict(data.inputs).then((t) => {
      order.push('predict');
      stepsAtPredict.push(opt.stepCount);
      return t;
    });
    const ev = model.evaluate(data).then(() => order.push('evaluate'));
    await Promise.all([fit, pred, ev]);
    expect(order).toEqual(['fit', 'predict', 'evaluate']);
    expect(stepsAtPredict).toEqual([3 * 500]);
    expect(model.busy).toBe(false);
    expect(model.forward(qkv.ones([1, 16])).shape).toEqual([1, 3]);
  });

  it('an onProgress that throws aborts the fit and rejects with its error', async () => {
    const model = new qkv.nn.Linear(4, 2, { seed: 1 });
    const e = await errorOf(model.fit(blobs(400, 4, 2, 12), { epochs: 5, batchSize: 4, onProgress: () => { throw new Error('boom'); } }));
    expect(e!.message).toBe('boom');
    expect(model.busy).toBe(false);
  });

  it('rejects bad datasets and options', async () => {
    const model = new qkv.nn.Linear(4, 2, { seed: 1 });
    const d = blobs(10, 4, 2, 13);
    expect(await errorOf(model.fit({ inputs: d.inputs, targets: qkv.Tensor.from(Int32Array.from([1, 0])) }))).toBeInstanceOf(RangeError);
    expect(await errorOf(model.fit({ inputs: d.inputs, targets: qkv.zeros([10]) }))).toMatchObject({ message: expect.stringMatching(/cross-entropy targets must be int32/) });
    expect(await errorOf(model.fit({ inputs: qkv.zeros([10, 5]), targets: d.targets }))).toMatchObject({ message: expect.stringMatching(/Linear\.forward: expected an input of shape \[\.\.\., 4\]/) });
    expect(await errorOf(model.fit(d, { batchSize: 0 }))).toBeInstanceOf(RangeError);
    expect(await errorOf(model.fit(d, { loss: 'hinge' as 'mse' }))).toBeInstanceOf(TypeError);
    expect(await errorOf(model.fit(d, { optimizer: {} as qkv.optim.Optimizer }))).toBeInstanceOf(TypeError);
    const other = new qkv.optim.SGD(new qkv.nn.Linear(4, 2, { seed: 2 }));
    expect(await errorOf(model.fit(d, { optimizer: other }))).toMatchObject({ message: expect.stringMatching(/optimizer parameter 0 \(shape \[2, 4\]\) is not a parameter of the Linear/) });
    expect(await errorOf(model.fit(null as unknown as qkv.nn.Dataset))).toBeInstanceOf(TypeError);
    expect(await errorOf(model.predict(qkv.zeros([0, 4])))).toBeInstanceOf(RangeError);
    expect(model.busy).toBe(false);
  });
});
