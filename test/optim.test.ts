// Optimizers against plain-loop references of PyTorch 1.13's update rules (float64, several steps
// with changing gradients), schedules, clipping, weight-decay masks and argument errors.
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { expectClose, randomRef } from './helpers/reference';

const SHAPES = [[3, 4], [4], [2, 2, 2]];

function makeParams(seed: number): qkv.Tensor[] {
  return SHAPES.map((s, i) => qkv.Tensor.from(randomRef(s, seed + i).data, s, { requiresGrad: true }));
}
const gradsAt = (step: number) => SHAPES.map((s, i) => randomRef(s, 1000 + 10 * step + i).data);

/** Runs `steps` steps of `opt` with known gradients and of `ref` on plain arrays; compares after each. */
function run(
  make: (params: qkv.Tensor[]) => qkv.optim.Optimizer,
  ref: (p: Float64Array, g: Float64Array, state: Record<string, Float64Array | number>, i: number) => void,
  steps = 4,
  what = '',
) {
  const params = makeParams(1);
  const opt = make(params);
  const plain = params.map((p) => Float64Array.from(p.toTypedArray()));
  const states = params.map(() => ({}) as Record<string, Float64Array | number>);
  for (let s = 0; s < steps; s++) {
    const gs = gradsAt(s);
    params.forEach((p, i) => (p.grad = qkv.Tensor.from(gs[i], p.shape)));
    opt.step();
    plain.forEach((p, i) => ref(p, gs[i], states[i], i));
    params.forEach((p, i) => expectClose(p.toTypedArray(), plain[i], 1e-12, 1e-14, `${what} step ${s} param ${i}`));
  }
  return { opt, params, states };
}

describe('SGD', () => {
  it('plain, with weight decay', () => {
    run((ps) => new qkv.optim.SGD(ps, { lr: 0.1, weightDecay: 0.01 }), (p, g) => {
      for (let j = 0; j < p.length; j++) p[j] -= 0.1 * (g[j] + 0.01 * p[j]);
    }, 3, 'sgd');
  });

  it('momentum with dampening (the buffer starts as the first gradient)', () => {
    run((ps) => new qkv.optim.SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.1 }), (p, g, st) => {
      const first = !st.buf;
      const buf = (st.buf ??= new Float64Array(p.length)) as Float64Array;
      for (let j = 0; j < p.length; j++) {
        buf[j] = first ? g[j] : 0.9 * buf[j] + 0.9 * g[j];
        p[j] -= 0.05 * buf[j];
      }
    }, 4, 'momentum');
  });

  it('Nesterov momentum', () => {
    const { opt, params, states } = run((ps) => new qkv.optim.SGD(ps, { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.02 }), (p, g, st) => {
      const first = !st.buf;
      const buf = (st.buf ??= new Float64Array(p.length)) as Float64Array;
      for (let j = 0; j < p.length; j++) {
        const d = g[j] + 0.02 * p[j];
        buf[j] = first ? d : 0.8 * buf[j] + d;
        p[j] -= 0.05 * (d + 0.8 * buf[j]);
      }
    }, 4, 'nesterov');
    expectClose(opt.state(1).buffers.momentum_buffer.toTypedArray(), states[1].buf as Float64Array, 1e-12, 1e-14, 'buffer');
    expect(opt.state(1).step).toBe(4);
    expect(params.length).toBe(3);
  });
});

function adamRef(lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: boolean, decays: boolean[]) {
  return (p: Float64Array, g: Float64Array, st: Record<string, Float64Array | number>, i: number) => {
    const m = (st.m ??= new Float64Array(p.length)) as Float64Array;
    const v = (st.v ??= new Float64Array(p.length)) as Float64Array;
    const t = (st.t = ((st.t as number) ?? 0) + 1);
    const w = decays[i] ? wd : 0;
    for (let j = 0; j < p.length; j++) {
      let gj = g[j];
      if (decoupled) p[j] *= 1 - lr * w;
      else gj += w * p[j];
      m[j] = b1 * m[j] + (1 - b1) * gj;
      v[j] = b2 * v[j] + (1 - b2) * gj * gj;
      const denom = Math.sqrt(v[j]) / Math.sqrt(1 - b2 ** t) + eps;
      p[j] -= (lr / (1 - b1 ** t)) * (m[j] / denom);
    }
  };
}

describe('Adam and AdamW', () => {
  it('Adam with L2 weight decay on every parameter by default', () => {
    const { opt, states } = run((ps) => new qkv.optim.Adam(ps, { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }), adamRef(0.01, 0.8, 0.99, 1e-6, 0.1, false, [true, true, true]), 5, 'adam');
    expect(opt.decayMask).toEqual([true, true, true]);
    expectClose(opt.state(0).buffers.exp_avg.toTypedArray(), states[0].m as Float64Array, 1e-12, 1e-15, 'exp_avg');
    expectClose(opt.state(0).buffers.exp_avg_sq.toTypedArray(), states[0].v as Float64Array, 1e-12, 1e-15, 'exp_avg_sq');
  });

  it('AdamW decouples weight decay (default 0.01) and skips 1-D parameters by default', () => {
    const { opt } = run((ps) => new qkv.optim.AdamW(ps, { lr: 0.02 }), adamRef(0.02, 0.9, 0.999, 1e-8, 0.01, true, [true, false, true]), 5, 'adamw');
    expect(opt.decayMask).toEqual([true, false, true]);
    expect(opt.weightDecay).toBe(0.01);
  });

  it('AdamW with a custom decay filter over named parameters; frozen parameters are left out', async () => {
    const model = new qkv.nn.MLP(3, [4], 2, { layerNorm: true, seed: 1 });
    const opt = new qkv.optim.AdamW(model, { weightDecay: 0.1, decay: (name) => name.startsWith('0.') });
    expect(opt.paramNames).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '3.weight', '3.bias']);
    expect(opt.decayMask).toEqual([true, true, false, false, false, false]);
    expect(new qkv.optim.AdamW(model).decayMask).toEqual([true, false, false, false, true, false]);
    // A frozen parameter is left out when the optimizer is built from the module, and does not move in fit.
    const frozen = model.parameter('0.weight');
    frozen.requiresGrad = false;
    const opt2 = new qkv.optim.AdamW(model);
    expect(opt2.paramNames).toEqual(['0.bias', '1.weight', '1.bias', '3.weight', '3.bias']);
    const before = frozen.toTypedArray(), head = model.parameter('3.weight').toTypedArray();
    const x = qkv.randn([8, 3], { seed: 1 }), y = qkv.Tensor.from(Int32Array.from([0, 1, 0, 1, 0, 1, 0, 1]));
    await model.fit({ inputs: x, targets: y }, { batchSize: 4, optimizer: opt2 });
    expect(frozen.toTypedArray()).toEqual(before);
    expect(model.parameter('3.weight').toTypedArray()).not.toEqual(head);
  });

  it('a parameter without a gradient is skipped and keeps its own step count', () => {
    const params = makeParams(3);
    const opt = new qkv.optim.Adam(params, { lr: 0.1 });
    const before = params[1].toTypedArray();
    params[0].grad = qkv.ones(params[0].shape, { dtype: 'float64' });
    params[2].grad = qkv.ones(params[2].shape, { dtype: 'float64' });
    opt.step();
    expect(params[1].toTypedArray()).toEqual(before);
    expect([opt.state(0).step, opt.state(1).step, opt.stepCount]).toEqual([1, 0, 1]);
    expect(opt.state(1).buffers).toEqual({});
    // With m = v = 0 at t = 1 the first Adam step moves by lr * g/|g| (up to eps).
    expect(params[0].toTypedArray()[0]).toBeCloseTo(randomRef(SHAPES[0], 3).data[0] - 0.1, 6);
    opt.zeroGrad();
    expect(params.every((p) => p.grad === null)).toBe(true);
  });
});

describe('schedules', () => {
  it('warmupCosine and warmupLinear follow their formulas; constant is flat', () => {
    const cos = qkv.optim.schedule.warmupCosine({ warmupSteps: 4, totalSteps: 14, minLr: 0.1 });
    const lin = qkv.optim.schedule.warmupLinear({ warmupSteps: 4, totalSteps: 14, minLr: 0.1 });
    for (let s = 0; s < 20; s++) {
      const p = Math.min(Math.max((s - 4) / 10, 0), 1);
      const warm = (s + 1) / 4;
      expect(cos.lrAt(s, 1)).toBeCloseTo(s < 4 ? warm : 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * p)), 14);
      expect(lin.lrAt(s, 1)).toBeCloseTo(s < 4 ? warm : 0.1 + 0.9 * (1 - p), 14);
    }
    expect(cos.lrAt(100, 1)).toBeCloseTo(0.1, 14);
    expect(qkv.optim.schedule.constant().lrAt(7, 0.3)).toBe(0.3);
    expect(() => qkv.optim.schedule.warmupCosine({ warmupSteps: 5, totalSteps: 3 })).toThrow(RangeError);
    expect(() => qkv.optim.schedule.warmupLinear({ warmupSteps: -1, totalSteps: 3 })).toThrow(RangeError);
  });

  it('the optimizer steps at the schedule\'s rate and reports it', () => {
    const params = makeParams(4);
    const sched = qkv.optim.schedule.warmupLinear({ warmupSteps: 2, totalSteps: 5 });
    const opt = new qkv.optim.SGD(params, { lr: 0.5, schedule: sched });
    const used: number[] = [];
    for (let s = 0; s < 6; s++) {
      params.forEach((p) => (p.grad = qkv.ones(p.shape, { dtype: 'float64' })));
      expect(opt.currentLr).toBeCloseTo(sched.lrAt(s, 0.5), 15);
      used.push(opt.step());
    }
    expect(used.map((v) => +v.toFixed(12))).toEqual([0.25, 0.5, 0.5, +(0.5 * (2 / 3)).toFixed(12), +(0.5 * (1 / 3)).toFixed(12), 0]);
    expect(opt.schedule.kind).toBe('warmupLinear');
    opt.lr = 1;
    expect(opt.lr).toBe(1);
  });
});

describe('clipping', () => {
  it('clipGradNorm returns the global norm and scales the gradients above maxNorm (as PyTorch)', () => {
    const params = makeParams(5);
    const gs = gradsAt(0);
    params.forEach((p, i) => (p.grad = qkv.Tensor.from(gs[i], p.shape)));
    const norm = Math.sqrt(gs.reduce((a, g) => a + g.reduce((b, v) => b + v * v, 0), 0));
    expect(qkv.optim.gradNorm(params)).toBeCloseTo(norm, 12);
    expect(qkv.optim.clipGradNorm(params, norm * 2)).toBeCloseTo(norm, 12);
    params.forEach((p, i) => expect(p.grad!.toTypedArray()).toEqual(gs[i]));  // below: untouched
    expect(qkv.optim.clipGradNorm(params, 1)).toBeCloseTo(norm, 12);
    const c = 1 / (norm + 1e-6);
    params.forEach((p, i) => expectClose(p.grad!.toTypedArray(), gs[i].map((v) => v * c), 1e-14, 0, `clipped ${i}`));
    expect(qkv.optim.gradNorm(params)).toBeCloseTo(1, 5);
    expect(() => qkv.optim.clipGradNorm(params, 0)).toThrow(RangeError);
    // Parameters without gradients count as zero.
    expect(qkv.optim.gradNorm([qkv.ones([2], { requiresGrad: true })])).toBe(0);
  });
});

describe('argument errors', () => {
  it('reject bad parameters and hyperparameters', () => {
    const p = qkv.ones([2], { requiresGrad: true });
    expect(() => new qkv.optim.SGD([])).toThrow(/no parameters/);
    expect(() => new qkv.optim.SGD([qkv.ones([2])])).toThrow(/not a leaf tensor that requires gradients/);
    expect(() => new qkv.optim.SGD([qkv.mul(p, 2)])).toThrow(/not a leaf/);
    expect(() => new qkv.optim.SGD([p, p])).toThrow(/same tensor as parameter 0/);
    expect(() => new qkv.optim.SGD([p], { lr: -1 })).toThrow(RangeError);
    expect(() => new qkv.optim.SGD([p], { nesterov: true })).toThrow(/Nesterov/);
    expect(() => new qkv.optim.Adam([p], { betas: [1, 0.9] })).toThrow(/betas\[0\] must be a finite number >= 0 and < 1, got 1/);
    expect(() => new qkv.optim.Adam([p], { betas: [0.9] as unknown as [number, number] })).toThrow(RangeError);
    expect(() => new qkv.optim.Adam([p], { betas: 0.9 as unknown as [number, number] })).toThrow(TypeError);
    expect(() => new qkv.optim.AdamW('x' as unknown as qkv.Tensor[])).toThrow(TypeError);
  });
});
