// Modules: structure and names, initialisation, forward values against plain-loop references,
// gradients against central finite differences in float64 (parameters perturbed through the
// strict state-dict loader), dropout, modes, state dicts and errors.
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { expectClose, matmulRef, randomRef, rng } from './helpers/reference';

const f64 = (shape: number[], seed: number, scale = 1) => qkv.Tensor.from(randomRef(shape, seed, scale).data, shape);

/** Central differences of sum(model(x) * R) w.r.t. x (when float) and every parameter. */
async function moduleGradcheck(model: qkv.nn.Module, xData: Float64Array | Int32Array, xShape: number[], what: string): Promise<void> {
  const isIds = xData instanceof Int32Array;
  const makeX = (d: Float64Array | Int32Array, grad: boolean) => qkv.Tensor.from(d, xShape, { requiresGrad: grad && !isIds });
  const out0 = qkv.noGrad(() => model.forward(makeX(xData, false)));
  const R = f64(out0.shape, 4242);
  const loss = (x: qkv.Tensor) => qkv.sum(qkv.mul(model.forward(x), R));

  model.zeroGrad();
  const x = makeX(xData, true);
  loss(x).backward();
  const base = new Map(model.namedParameters().map(([n, p]) => [n, p.toTypedArray() as Float64Array]));
  const analytic = new Map(model.namedParameters().map(([n, p]) => [n, p.grad]));
  const h = 1e-6;
  const lossAt = async (name: string | null, data: Float64Array | Int32Array) => {
    if (name !== null) {
      const state = new Map<string, qkv.Tensor>();
      for (const [n, p] of model.namedParameters()) state.set(n, n === name ? qkv.Tensor.from(data as Float64Array, p.shape) : qkv.Tensor.from(base.get(n)!, p.shape));
      await model.loadStateDict(state);
      return qkv.noGrad(() => loss(makeX(xData, false)).item());
    }
    return qkv.noGrad(() => loss(makeX(data, false)).item());
  };
  const numeric = async (name: string | null, d0: Float64Array) => {
    const out = new Float64Array(d0.length);
    for (let j = 0; j < d0.length; j++) {
      const plus = d0.slice(), minus = d0.slice();
      plus[j] += h;
      minus[j] -= h;
      out[j] = ((await lossAt(name, plus)) - (await lossAt(name, minus))) / (2 * h);
    }
    return out;
  };
  for (const [name, d0] of base) {
    const g = analytic.get(name);
    expect(g, `${what}: ${name} got no gradient`).not.toBeNull();
    expectClose(g!.toTypedArray(), await numeric(name, d0), 1e-6, 1e-7, `${what}: d/d ${name}`);
  }
  await model.loadStateDict(new Map(model.namedParameters().map(([n, p]) => [n, qkv.Tensor.from(base.get(n)!, p.shape)])));
  if (!isIds) expectClose(x.grad!.toTypedArray(), await numeric(null, xData as Float64Array), 1e-6, 1e-7, `${what}: d/d input`);
}

describe('module structure', () => {
  it('MLP names its parameters as PyTorch nn.Sequential of the same layers, in registration order', () => {
    const m = new qkv.nn.MLP(4, [8, 6], 3, { layerNorm: true, dropout: 0.1, seed: 1 });
    expect(m.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([
      ['0.weight', [8, 4]], ['0.bias', [8]], ['1.weight', [8]], ['1.bias', [8]],
      ['4.weight', [6, 8]], ['4.bias', [6]], ['5.weight', [6]], ['5.bias', [6]],
      ['8.weight', [3, 6]], ['8.bias', [3]],
    ]);
    expect(m.parameterCount).toBe(8 * 4 + 8 + 16 + 6 * 8 + 6 + 12 + 3 * 6 + 3);
    expect(m.namedChildren().map(([n, c]) => [n, c.type])).toEqual([
      ['0', 'Linear'], ['1', 'LayerNorm'], ['2', 'ReLU'], ['3', 'Dropout'], ['4', 'Linear'], ['5', 'LayerNorm'],
      ['6', 'ReLU'], ['7', 'Dropout'], ['8', 'Linear'],
    ]);
    expect(m.namedChildren()[0][1]).toBeInstanceOf(qkv.nn.Linear);
    expect(m).toBeInstanceOf(qkv.nn.Sequential);
    expect(m.config).toMatchObject({ type: 'MLP', in: 4, hidden: [8, 6], out: 3, layerNorm: true, dropout: 0.1 });
    for (const p of m.parameters()) expect(p.requiresGrad && p.isLeaf).toBe(true);
  });

  it('a Sequential of TypeScript modules shares their parameters; a module added twice counts once', async () => {
    const a = new qkv.nn.Linear(3, 3, { seed: 1 }), b = new qkv.nn.LayerNorm(3);
    const seq = new qkv.nn.Sequential(a, new qkv.nn.GELU(), b, a);
    expect(seq.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(seq.parameterCount).toBe(12 + 6);
    seq.append(new qkv.nn.Tanh());
    expect(seq.length).toBe(5);
    expect(seq.at(-1).type).toBe('Tanh');
    // Loading through the Sequential changes what the Linear sees (same storage).
    const w = qkv.Tensor.from(new Float32Array(9).fill(0.5), [3, 3]);
    await seq.loadStateDict({ '0.weight': w, '0.bias': qkv.zeros([3]), '2.weight': qkv.ones([3]), '2.bias': qkv.zeros([3]) });
    expect(Array.from(a.weight.toFloat32Array())).toEqual(new Array(9).fill(0.5));
    const x = f64([2, 3], 1).to('float32');
    const y = seq.forward(x);
    const manual = qkv.tanh(a.forward(b.forward(qkv.gelu(a.forward(x)))));
    expectClose(y.toTypedArray(), manual.toTypedArray(), 0, 0, 'Sequential = composition');
  });

  it('stateDict and train/eval reach every child; zeroGrad clears gradients', () => {
    const m = new qkv.nn.MLP(2, [3], 2, { dropout: 0.5, seed: 3 });
    expect([...m.stateDict().keys()]).toEqual(['0.weight', '0.bias', '3.weight', '3.bias']);
    expect(m.training).toBe(true);
    m.eval();
    expect(m.training).toBe(false);
    expect(m.namedChildren().every(([, c]) => !c.training)).toBe(true);
    m.train();
    expect(m.namedChildren().every(([, c]) => c.training)).toBe(true);
    qkv.sum(m.forward(qkv.ones([4, 2]))).backward();
    expect(m.parameters().every((p) => p.grad !== null)).toBe(true);
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
  });
});

describe('initialisation', () => {
  const stats = (t: qkv.Tensor) => {
    const a = Array.from(t.toTypedArray());
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    return { mean, std, maxAbs: Math.max(...a.map(Math.abs)) };
  };

  it('Linear defaults to PyTorch: U(±1/sqrt(in)) for weight and bias; seeded', () => {
    const l = new qkv.nn.Linear(400, 300, { seed: 7 });
    const bound = 1 / Math.sqrt(400);
    const w = stats(l.weight), b = stats(l.bias!);
    expect(w.maxAbs).toBeLessThanOrEqual(bound);
    expect(w.maxAbs).toBeGreaterThan(0.99 * bound);
    expect(w.std).toBeCloseTo(bound / Math.sqrt(3), 3);
    expect(b.maxAbs).toBeLessThanOrEqual(bound);
    expect(b.std).toBeGreaterThan(0.5 * bound / Math.sqrt(3));
    const again = new qkv.nn.Linear(400, 300, { seed: 7 }), other = new qkv.nn.Linear(400, 300, { seed: 8 });
    expect(again.weight.toTypedArray()).toEqual(l.weight.toTypedArray());
    expect(again.bias!.toTypedArray()).toEqual(l.bias!.toTypedArray());
    expect(other.weight.toTypedArray()).not.toEqual(l.weight.toTypedArray());
  });

  it('Xavier, Kaiming, normal and zeros follow their formulas (fans of a [out, in] weight)', () => {
    const [out, inn] = [200, 500];
    const xu = stats(new qkv.nn.Linear(inn, out, { init: 'xavierUniform', seed: 1 }).weight);
    const xb = Math.sqrt(6 / (inn + out));
    expect(xu.maxAbs).toBeLessThanOrEqual(xb);
    expect(xu.maxAbs).toBeGreaterThan(0.99 * xb);
    const ku = stats(new qkv.nn.Linear(inn, out, { init: 'kaimingUniform', seed: 2 }).weight);
    const kb = Math.sqrt(2) * Math.sqrt(3 / inn);
    expect(ku.maxAbs).toBeLessThanOrEqual(kb);
    expect(ku.maxAbs).toBeGreaterThan(0.99 * kb);
    expect(stats(new qkv.nn.Linear(inn, out, { init: { kind: 'kaimingNormal', gain: 1 }, seed: 3 }).weight).std).toBeCloseTo(1 / Math.sqrt(inn), 3);
    expect(stats(new qkv.nn.Linear(inn, out, { init: 'xavierNormal', seed: 3 }).weight).std).toBeCloseTo(Math.sqrt(2 / (inn + out)), 3);
    const n = new qkv.nn.Linear(inn, out, { init: { kind: 'normal', std: 0.02 }, seed: 4 });
    expect(stats(n.weight).std).toBeCloseTo(0.02, 3);
    expect(stats(n.bias!).maxAbs).toBe(0);  // non-default schemes start the bias at zero
    expect(stats(new qkv.nn.Linear(3, 3, { init: 'zeros' }).weight).maxAbs).toBe(0);
    expect(stats(new qkv.nn.Embedding(1000, 64, { seed: 5 }).weight).std).toBeCloseTo(1, 1);
    const ln = new qkv.nn.LayerNorm(5);
    expect(Array.from(ln.weight!.toTypedArray())).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(ln.bias!.toTypedArray())).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('forward values against plain loops', () => {
  it('Linear: x W^T + b on 2-D and 3-D inputs', () => {
    const l = new qkv.nn.Linear(5, 3, { dtype: 'float64', seed: 11 });
    const W = { data: l.weight.toTypedArray() as Float64Array, shape: [3, 5] };
    const b = l.bias!.toTypedArray();
    const xr = randomRef([2, 4, 5], 12);
    const y = l.forward(qkv.Tensor.from(xr.data, xr.shape));
    expect(y.shape).toEqual([2, 4, 3]);
    const WT = { data: new Float64Array(15), shape: [5, 3] };
    for (let i = 0; i < 3; i++) for (let j = 0; j < 5; j++) WT.data[j * 3 + i] = W.data[i * 5 + j];
    const ref = matmulRef({ data: xr.data, shape: [8, 5] }, WT);
    for (let i = 0; i < 8; i++) for (let j = 0; j < 3; j++) ref.data[i * 3 + j] += b[j];
    expectClose(y.toTypedArray(), ref.data, 1e-14, 1e-14, 'Linear');
    const nb = new qkv.nn.Linear(5, 3, { bias: false, seed: 1 });
    expect(nb.bias).toBeNull();
    expect(nb.namedParameters().map(([n]) => n)).toEqual(['weight']);
  });

  it('LayerNorm normalises the last axis with eps, then scales and shifts', async () => {
    const ln = new qkv.nn.LayerNorm(6, { eps: 1e-3, dtype: 'float64' });
    await ln.loadStateDict({ weight: f64([6], 1), bias: f64([6], 2) });
    const g = ln.weight!.toTypedArray(), b = ln.bias!.toTypedArray();
    const xr = randomRef([3, 6], 3);
    const y = ln.forward(qkv.Tensor.from(xr.data, xr.shape)).toTypedArray();
    for (let r = 0; r < 3; r++) {
      const row = Array.from(xr.data.slice(r * 6, r * 6 + 6));
      const mean = row.reduce((s, v) => s + v, 0) / 6;
      const v = row.reduce((s, x) => s + (x - mean) ** 2, 0) / 6;
      const want = row.map((x, j) => ((x - mean) / Math.sqrt(v + 1e-3)) * g[j] + b[j]);
      expectClose(y.slice(r * 6, r * 6 + 6), want, 1e-12, 1e-12, `LayerNorm row ${r}`);
    }
  });

  it('Embedding gathers rows', () => {
    const e = new qkv.nn.Embedding(10, 4, { seed: 3 });
    const w = e.weight.toTypedArray();
    const y = e.forward(qkv.Tensor.from(Int32Array.from([7, 0, 7, 9]), [2, 2]));
    expect(y.shape).toEqual([2, 2, 4]);
    expect(Array.from(y.toTypedArray())).toEqual([7, 0, 7, 9].flatMap((i) => Array.from(w.slice(i * 4, i * 4 + 4))));
  });
});

describe('gradients against central finite differences (float64)', () => {
  it('Linear (input, weight, bias)', async () => {
    await moduleGradcheck(new qkv.nn.Linear(4, 3, { dtype: 'float64', seed: 1 }), randomRef([2, 3, 4], 5).data, [2, 3, 4], 'Linear');
  });
  it('LayerNorm (input, weight, bias)', async () => {
    const ln = new qkv.nn.LayerNorm(5, { dtype: 'float64' });
    await ln.loadStateDict({ weight: f64([5], 6), bias: f64([5], 7) });
    await moduleGradcheck(ln, randomRef([3, 5], 8).data, [3, 5], 'LayerNorm');
  });
  it('MLP with layer norm and GELU, and with tanh', async () => {
    await moduleGradcheck(new qkv.nn.MLP(3, [4], 2, { layerNorm: true, activation: 'gelu', dtype: 'float64', seed: 2 }), randomRef([3, 3], 9).data, [3, 3], 'MLP ln gelu');
    await moduleGradcheck(new qkv.nn.MLP(3, [3, 2], 2, { activation: 'tanh', dtype: 'float64', seed: 3 }), randomRef([2, 3], 10).data, [2, 3], 'MLP tanh');
  });
  it('Embedding (weight, only the rows used)', async () => {
    const e = new qkv.nn.Embedding(5, 3, { dtype: 'float64', seed: 4 });
    await moduleGradcheck(e, Int32Array.from([1, 3, 1, 0]), [2, 2], 'Embedding');
    e.zeroGrad();
    qkv.sum(e.forward(qkv.Tensor.from(Int32Array.from([1, 3, 1])))).backward();
    expect(Array.from(e.weight.grad!.toTypedArray())).toEqual([0, 0, 0, 2, 2, 2, 0, 0, 0, 1, 1, 1, 0, 0, 0]);
  });
});

describe('Dropout', () => {
  it('drops about p of the elements while training, scales the rest by 1/(1-p), and is the identity in eval mode', () => {
    const d = new qkv.nn.Dropout(0.25, { seed: 9 });
    const x = qkv.ones([100, 100]);
    const y = Array.from(d.forward(x).toTypedArray());
    const zeros = y.filter((v) => v === 0).length;
    expect(zeros / y.length).toBeGreaterThan(0.23);
    expect(zeros / y.length).toBeLessThan(0.27);
    expect(y.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    d.eval();
    expect(Array.from(d.forward(x).toTypedArray()).every((v) => v === 1)).toBe(true);
  });

  it('is seeded: the same seed and calls give the same masks; successive calls differ', () => {
    const a = new qkv.nn.Dropout(0.5, { seed: 1 }), b = new qkv.nn.Dropout(0.5, { seed: 1 });
    const x = qkv.ones([64]);
    const a1 = a.forward(x).toTypedArray(), a2 = a.forward(x).toTypedArray();
    expect(b.forward(x).toTypedArray()).toEqual(a1);
    expect(b.forward(x).toTypedArray()).toEqual(a2);
    expect(a1).not.toEqual(a2);
  });

  it('passes gradients through the kept elements only', () => {
    const d = new qkv.nn.Dropout(0.5, { seed: 2 });
    const x = qkv.ones([50], { requiresGrad: true });
    const y = d.forward(x);
    qkv.sum(y).backward();
    expect(x.grad!.toTypedArray()).toEqual(y.toTypedArray());
  });
});

describe('errors', () => {
  it('bad inputs name the module and the shapes', () => {
    const l = new qkv.nn.Linear(4, 2, { seed: 1 });
    expect(() => l.forward(qkv.ones([3, 5]))).toThrow(RangeError);
    expect(() => l.forward(qkv.ones([3, 5]))).toThrow(/Linear\.forward: expected an input of shape \[\.\.\., 4\], got \[3, 5\]/);
    expect(() => l.forward(qkv.ones([3, 4], { dtype: 'float64' }))).toThrow(/the input is float64, the module's parameters are float32/);
    expect(() => l.forward([1, 2] as unknown as qkv.Tensor)).toThrow(TypeError);
    expect(() => new qkv.nn.Embedding(3, 2).forward(qkv.ones([2]))).toThrow(/ids must be an int32 tensor/);
    expect(() => new qkv.nn.Linear(0, 2)).toThrow(RangeError);
    expect(() => new qkv.nn.Linear(2.5, 2)).toThrow(RangeError);
    expect(() => new qkv.nn.Linear('2' as never, 2)).toThrow(TypeError);
    expect(() => new qkv.nn.Dropout(1.5)).toThrow(RangeError);
    expect(() => new qkv.nn.MLP(2, [2], 2, { activation: 'swish' as 'relu' })).toThrow(/nn.MLP: option activation must be 'relu', .* or 'quickGelu', got 'swish'/);
    expect(() => new qkv.nn.Linear(2, 2, { init: 'orthogonal' as 'zeros' })).toThrow(/nn.Linear: option init must be 'default', .*, got 'orthogonal'/);
    expect(() => new qkv.nn.Sequential(l, {} as qkv.nn.Module)).toThrow(/argument 1 must be a module/);
    expect(() => new qkv.nn.MLP(2, [2], 2).append()).toThrow(TypeError);
  });

  it('a disposed module throws ERR_DISPOSED; its tensors handed out stay valid', async () => {
    const l = new qkv.nn.Linear(2, 2, { seed: 1 });
    const w = l.weight;
    await l.dispose();
    expect(() => l.forward(qkv.ones([1, 2]))).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
    expect(w.toTypedArray().length).toBe(4);
  });

  it('loadStateDict is strict and all-or-nothing', async () => {
    const l = new qkv.nn.Linear(2, 2, { seed: 1 });
    const before = l.weight.toTypedArray();
    const err = (p: Promise<unknown>) => p.then(() => null, (e: qkv.QkvError) => e);
    let e = await err(l.loadStateDict({ weight: qkv.zeros([2, 2]) }));
    expect(e).toMatchObject({ code: 'ERR_FORMAT', message: expect.stringMatching(/tensor 'bias' of the Linear is missing/) });
    e = await err(l.loadStateDict({ weight: qkv.zeros([2, 2]), bias: qkv.zeros([3]) }));
    expect(e).toMatchObject({ code: 'ERR_FORMAT', message: expect.stringMatching(/tensor 'bias' has shape \[3\] .*expected \[2\]/) });
    e = await err(l.loadStateDict({ weight: qkv.zeros([2, 2]), bias: qkv.zeros([2]), extra: qkv.zeros([1]) }));
    expect(e).toMatchObject({ code: 'ERR_FORMAT', message: expect.stringMatching(/tensor 'extra' .* is not part of the Linear/) });
    expect(l.weight.toTypedArray()).toEqual(before);  // nothing was written
  });
});

describe('seeded construction is reproducible across modules', () => {
  it('MLP with the same seed is identical; a rng-independent check of the layout', () => {
    const a = new qkv.nn.MLP(3, [4], 2, { seed: 99 }), b = new qkv.nn.MLP(3, [4], 2, { seed: 99 });
    for (const [[na, ta], [nb, tb]] of a.namedParameters().map((p, i) => [p, b.namedParameters()[i]] as const)) {
      expect(na).toBe(nb);
      expect(ta.toTypedArray()).toEqual(tb.toTypedArray());
    }
    const r = rng(1);
    expect(r.uniform()).not.toBe(r.uniform());
  });
});
