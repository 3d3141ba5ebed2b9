// The training engine shared by every model (cpp/train/engine.h): one progress and result type,
// exact resumption (a run split across calls equals one uninterrupted run), accumulation, maxSteps,
// and weight decay declared by the modules.
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { nnBinding } from '../src/nn/native-nn';

const { nn, optim } = qkv;

function dataset(n: number, seed: number) {
  const x = qkv.randn([n, 6], { seed });
  const w = qkv.randn([6, 3], { seed: seed + 1 });
  const y = qkv.argmax(qkv.matmul(x, w), -1);
  return { inputs: x, targets: y };
}

async function params(m: qkv.nn.Module): Promise<number[]> {
  return m.namedParameters().flatMap(([, p]) => Array.from(p.toTypedArray() as Float32Array));
}

function model() {
  return new nn.MLP(6, [16], 3, { seed: 3, dropout: 0.2 });
}

describe('training engine', () => {
  it('a fit split across calls (same optimizer) equals one uninterrupted fit, dropout and data order included', async () => {
    const data = dataset(200, 1);
    const a = model(), b = model();
    const optA = new optim.AdamW(a, { lr: 3e-3 }), optB = new optim.AdamW(b, { lr: 3e-3 });
    const one = await a.fit(data, { optimizer: optA, epochs: 3, batchSize: 32, seed: 9 });
    expect(one.steps).toBe(3 * 7);
    const first = await b.fit(data, { optimizer: optB, maxSteps: 10, batchSize: 32, seed: 9 });
    expect(first.steps).toBe(10);
    const steps: number[] = [];
    const second = await b.fit(data, { optimizer: optB, maxSteps: 11, batchSize: 32, seed: 9, onProgress: (p) => steps.push(p.step) });
    expect(second.firstEpoch).toBe(2);  // step 11 lies in epoch 2
    expect(steps.at(-1)).toBe(21);
    expect(optB.stepCount).toBe(21);
    expect(await params(b)).toEqual(await params(a));
  });

  it('reports one progress shape and one result shape', async () => {
    const data = dataset(64, 2);
    const m = model();
    let last: qkv.TrainProgress | undefined;
    const r: qkv.TrainResult = await m.fit(data, { epochs: 2, batchSize: 16, validation: data, onProgress: (p) => (last = p) });
    expect(Object.keys(r).sort()).toEqual(['epochs', 'firstEpoch', 'history', 'samples', 'samplesPerSec', 'seconds', 'steps', 'tokens', 'tokensPerSec']);
    expect(r.samples).toBe(128);
    expect(r.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.history.filter((h) => h.valLoss !== undefined).map((h) => h.step)).toEqual([4, 8]);
    expect(r.history[7].valLoss).toBe(r.epochs[1].valLoss);
    expect(last!.valStep).toBe(8);
    expect(r.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(last).toBeDefined();
    expect(last!.step).toBe(8);
    expect(last!.totalSteps).toBe(8);
    expect(last!.epochEnd).toBe(true);
    expect(last!.samples).toBe(128);
    expect(last!.valLoss).toBeCloseTo(r.epochs[1].valLoss!, 10);
    const ev: qkv.EvalResult = await m.evaluate(data);
    expect(ev.count).toBe(64);
  });

  it('accumulating k micro-batches equals one batch of k times the size (up to rounding)', async () => {
    const data = dataset(96, 4);
    const mk = () => new nn.MLP(6, [8], 3, { seed: 5 });
    const a = mk(), b = mk();
    await a.fit(data, { optimizer: new optim.SGD(a, { lr: 0.1 }), epochs: 1, batchSize: 32, shuffle: false });
    await b.fit(data, { optimizer: new optim.SGD(b, { lr: 0.1 }), epochs: 1, batchSize: 8, accumulate: 4, shuffle: false });
    const pa = await params(a), pb = await params(b);
    pa.forEach((v, i) => expect(pb[i]).toBeCloseTo(v, 5));
  });

  it('AdamW over a module decays what its layers declare: not embeddings, biases or norms', () => {
    const m = new nn.Sequential(new nn.Embedding(10, 4), new nn.LayerNorm(4), new nn.Linear(4, 2));
    const opt = new optim.AdamW(m);
    const decay = nnBinding.optimInfo(opt._o).decay;
    expect(Object.fromEntries(opt.paramNames.map((n, i) => [n, decay[i]]))).toEqual({
      '0.weight': false, '1.weight': false, '1.bias': false, '2.weight': true, '2.bias': false,
    });
  });
});
