// Parity with PyTorch 1.13 (test/fixtures/make_mlp_parity.py, float64): a small MLP with layer norm
// and GELU, cross-entropy, 3 AdamW steps with decoupled weight decay on the matrices, gradient
// clipping that is active on every step, and a warm-up + cosine schedule. The initial weights come
// from a safetensors file written by the Python script itself, through the strict checkpoint loader.
import { readFileSync } from 'fs';
import path from 'path';
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { expectClose } from './helpers/reference';

interface Step {
  inputs: number[];
  targets: number[];
  loss: number;
  gradNorm: number;
  lr: number;
  grads: Record<string, number[]>;
  params: Record<string, number[]>;
}
interface Fixture {
  model: { in: number; hidden: number[]; out: number; activation: 'gelu'; layerNorm: boolean; eps: number };
  optimizer: { lr: number; betas: [number, number]; eps: number; weightDecay: number };
  schedule: { warmupSteps: number; totalSteps: number; minLr: number };
  clipNorm: number;
  batch: number;
  shapes: Record<string, number[]>;
  steps: Step[];
}

const dir = path.join(__dirname, 'fixtures');
const fx = JSON.parse(readFileSync(path.join(dir, 'mlp_parity.json'), 'utf8')) as Fixture;
const weights = path.join(dir, 'mlp_parity.safetensors');

async function setup(dtype: 'float32' | 'float64') {
  const m = fx.model;
  const model = new qkv.nn.MLP(m.in, m.hidden, m.out, { activation: m.activation, layerNorm: m.layerNorm, eps: m.eps, dtype, seed: 0 });
  await model.load(weights);
  const opt = new qkv.optim.AdamW(model, {
    lr: fx.optimizer.lr,
    betas: fx.optimizer.betas,
    eps: fx.optimizer.eps,
    weightDecay: fx.optimizer.weightDecay,
    schedule: qkv.optim.schedule.warmupCosine(fx.schedule),
  });
  return { model, opt };
}

// Tolerances: float64 must match PyTorch's float64 to rounding; float32 is held to 1e-5 relative
// of each tensor's largest magnitude (elements near zero carry absolute float32 rounding).
const tol = { float64: { rtol: 1e-10, scale: 1e-12 }, float32: { rtol: 1e-5, scale: 1e-5 } };

function compare(actual: qkv.Tensor, expected: number[], dtype: 'float32' | 'float64', what: string) {
  const maxAbs = expected.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  expectClose(actual.toTypedArray(), expected, tol[dtype].rtol, tol[dtype].scale * maxAbs, what);
}

describe.each(['float64', 'float32'] as const)('MLP + AdamW parity with PyTorch (%s)', (dtype) => {
  it('loss, gradients, gradient norm, learning rate and parameters after each of 3 steps', async () => {
    const { model, opt } = await setup(dtype);
    expect(model.namedParameters().map(([n, t]) => [n, t.shape])).toEqual(Object.entries(fx.shapes));
    expect(opt.decayMask).toEqual(model.parameters().map((p) => p.ndim === 2));
    for (const [s, step] of fx.steps.entries()) {
      const x = qkv.Tensor.from(step.inputs, [fx.batch, fx.model.in], { dtype });
      const y = qkv.Tensor.from(Int32Array.from(step.targets));
      opt.zeroGrad();
      const loss = qkv.crossEntropy(model.forward(x), y);
      loss.backward();
      expect(Math.abs(loss.item() - step.loss) / step.loss, `step ${s} loss`).toBeLessThan(tol[dtype].rtol * 10);
      for (const [name, p] of model.namedParameters()) compare(p.grad!, step.grads[name], dtype, `step ${s} grad ${name}`);
      const norm = qkv.optim.clipGradNorm(model, fx.clipNorm);
      expect(Math.abs(norm - step.gradNorm) / step.gradNorm, `step ${s} grad norm`).toBeLessThan(tol[dtype].rtol * 10);
      expect(opt.currentLr).toBeCloseTo(step.lr, 15);
      expect(opt.step()).toBeCloseTo(step.lr, 15);
      for (const [name, p] of model.namedParameters()) compare(p, step.params[name], dtype, `step ${s} param ${name}`);
    }
    expect(opt.stepCount).toBe(3);
  });

  it('fit() runs the same 3 steps natively', async () => {
    const { model, opt } = await setup(dtype);
    const inputs = qkv.Tensor.from(fx.steps.flatMap((s) => s.inputs), [fx.steps.length * fx.batch, fx.model.in], { dtype });
    const targets = qkv.Tensor.from(Int32Array.from(fx.steps.flatMap((s) => s.targets)));
    const seen: { loss: number; lr: number; gradNorm: number }[] = [];
    const r = await model.fit(
      { inputs, targets },
      { epochs: 1, batchSize: fx.batch, shuffle: false, optimizer: opt, clipNorm: fx.clipNorm, onProgress: (p) => seen.push(p) },
    );
    expect(r.steps).toBe(3);
    const last = fx.steps[fx.steps.length - 1];
    for (const [name, p] of model.namedParameters()) compare(p, last.params[name], dtype, `fit param ${name}`);
    expect(r.epochs[0].loss).toBeCloseTo(fx.steps.reduce((a, s) => a + s.loss, 0) / 3, dtype === 'float64' ? 10 : 5);
    const final = seen[seen.length - 1];
    expect(final.lr).toBeCloseTo(last.lr, 15);
    expect(final.gradNorm).toBeCloseTo(last.gradNorm, dtype === 'float64' ? 10 : 5);
  });
});
