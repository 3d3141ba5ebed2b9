// Checkpoints: a bit-exact round trip of parameters and optimizer state (training resumes exactly
// as if it had not stopped), rebuilding a module from its config, and strict, all-or-nothing loads
// that reject corrupt or mismatched files with ERR_FORMAT naming the tensor.
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { rng } from './helpers/reference';

const dir = mkdtempSync(path.join(tmpdir(), 'qkv-nn-'));
const file = (name: string) => path.join(dir, name);
const errorOf = (p: Promise<unknown>) => p.then(() => null, (e: Error & { code?: string }) => e);
const params = (m: qkv.nn.Module) => m.parameters().map((p) => p.toTypedArray());

function data(n: number, seed: number) {
  const r = rng(seed);
  const x = new Float32Array(n * 6), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r.int(3);
    for (let d = 0; d < 6; d++) x[i * 6 + d] = r.normal() + (d === y[i] ? 2 : 0);
  }
  return { inputs: qkv.Tensor.from(x, [n, 6]), targets: qkv.Tensor.from(y) };
}

describe('checkpoints', () => {
  it('round-trips parameters bit-exactly, and training resumes exactly with the optimizer state', async () => {
    const d = data(256, 1);
    const sched = qkv.optim.schedule.warmupCosine({ warmupSteps: 5, totalSteps: 60 });
    const a = new qkv.nn.MLP(6, [16, 8], 3, { layerNorm: true, activation: 'gelu', dropout: 0.1, seed: 1 });
    const optA = new qkv.optim.AdamW(a, { lr: 5e-3, weightDecay: 0.05, schedule: sched });
    await a.fit(d, { epochs: 2, batchSize: 16, optimizer: optA, seed: 1 });
    await a.save(file('a.safetensors'), { optimizer: optA, metadata: { note: 'after 2 epochs' } });

    const b = new qkv.nn.MLP(6, [16, 8], 3, { layerNorm: true, activation: 'gelu', dropout: 0.1, seed: 1 });
    const optB = new qkv.optim.AdamW(b, { lr: 1, weightDecay: 0.5, betas: [0.5, 0.5] });
    await b.fit(data(64, 3), { epochs: 3, batchSize: 8, optimizer: optB });  // weights, moments and dropout positions all differ now
    const bWeight = b.parameters()[0];  // handed out before the load: sees the new values
    const { metadata } = await b.load(file('a.safetensors'), { optimizer: optB });
    expect(params(b)).toEqual(params(a));
    expect(bWeight.toTypedArray()).toEqual(a.parameters()[0].toTypedArray());
    expect(metadata.note).toBe('after 2 epochs');
    expect(JSON.parse(metadata['qkv.config'])).toEqual(a.config);
    expect(optB.hyperparameters).toEqual(optA.hyperparameters);
    expect(optB.stepCount).toBe(32);
    expect(optB.currentLr).toBe(optA.currentLr);
    for (let i = 0; i < 6; i++) {
      const sa = optA.state(i), sb = optB.state(i);
      expect(sb.step).toBe(sa.step);
      expect(sb.buffers.exp_avg.toTypedArray()).toEqual(sa.buffers.exp_avg.toTypedArray());
      expect(sb.buffers.exp_avg_sq.toTypedArray()).toEqual(sa.buffers.exp_avg_sq.toTypedArray());
    }
    expect(JSON.parse(metadata['qkv.rng'])).toEqual({ '3': '32', '7': '32' });  // the dropouts' positions
    // Continue both (dropout masks included): identical to the last bit.
    expect((await errorOf(b.fit(d, { epochs: 0 })))).toBeInstanceOf(RangeError);
    await a.fit(d, { epochs: 1, batchSize: 16, optimizer: optA, seed: 2 });
    await b.fit(d, { epochs: 1, batchSize: 16, optimizer: optB, seed: 2 });
    expect(params(b)).toEqual(params(a));

    // nn.load rebuilds the module from its config.
    const { module, metadata: m2 } = await qkv.nn.load(file('a.safetensors'));
    expect(module).toBeInstanceOf(qkv.nn.MLP);
    expect(module.config).toEqual(a.config);
    expect(m2['qkv.format']).toBe('module/1');
    const c = new qkv.nn.MLP(6, [16, 8], 3, { layerNorm: true, activation: 'gelu', dropout: 0.1, seed: 5 });
    await c.load(file('a.safetensors'));  // weights only: the optimizer state is ignored
    expect(params(c)).toEqual(params(module));
  });

  it('saves a Sequential of mixed layers and float64 modules; a float32 checkpoint loads into float64 modules', async () => {
    const seq = new qkv.nn.Sequential(new qkv.nn.Embedding(10, 4, { seed: 1 }), new qkv.nn.Linear(4, 2, { bias: false, seed: 2 }));
    await seq.save(file('seq.safetensors'));
    const { module } = await qkv.nn.load(file('seq.safetensors'));
    expect(module.namedChildren().map(([, m]) => m.type)).toEqual(['Embedding', 'Linear']);
    expect(params(module)).toEqual(params(seq));
    const wide = new qkv.nn.Sequential(new qkv.nn.Embedding(10, 4, { dtype: 'float64' }), new qkv.nn.Linear(4, 2, { bias: false, dtype: 'float64' }));
    await wide.load(file('seq.safetensors'));
    expect(Array.from(wide.parameters()[0].toTypedArray())).toEqual(Array.from(seq.parameters()[0].toTypedArray()));
    const files = await qkv.loadSafetensors(file('seq.safetensors'));
    expect([...files.tensors.keys()]).toEqual(['0.weight', '1.weight']);
  });

  it('rejects mismatched, corrupt and truncated files with ERR_FORMAT naming the tensor, changing nothing', async () => {
    const m = new qkv.nn.MLP(4, [5], 2, { seed: 3 });
    const opt = new qkv.optim.AdamW(m);
    m.parameters().forEach((p) => (p.grad = qkv.ones(p.shape)));
    opt.step();
    await m.save(file('m.safetensors'), { optimizer: opt });
    await m.save(file('noopt.safetensors'));
    const target = new qkv.nn.MLP(4, [5], 2, { seed: 4 });
    const before = params(target);
    const expectFormat = async (p: Promise<unknown>, re: RegExp) => {
      const e = await errorOf(p);
      expect(e).toBeInstanceOf(qkv.QkvError);
      expect(e!.code).toBe('ERR_FORMAT');
      expect(e!.message).toMatch(re);
      expect(params(target)).toEqual(before);
    };
    await expectFormat(new qkv.nn.MLP(4, [6], 2).load(file('m.safetensors')), /tensor '0\.weight' has shape \[5, 4\] in the file, expected \[6, 4\]/);
    await expectFormat(new qkv.nn.MLP(4, [5], 2, { layerNorm: true }).load(file('m.safetensors')), /tensor '1\.weight' of the MLP is missing from the file/);
    await expectFormat(new qkv.nn.Sequential(new qkv.nn.Linear(4, 5)).load(file('m.safetensors')), /tensor '2\.weight' in the file is not part of the Sequential/);
    await expectFormat(new qkv.nn.Linear(4, 5).load(file('m.safetensors')), /tensor 'weight' of the Linear is missing/);
    await expectFormat(target.load(file('noopt.safetensors'), { optimizer: new qkv.optim.AdamW(target) }), /holds no optimizer state/);
    await expectFormat(target.load(file('m.safetensors'), { optimizer: new qkv.optim.SGD(target) }), /saved by AdamW, loaded into SGD/);
    const partial = new qkv.optim.AdamW(target.parameters().slice(0, 2));
    await expectFormat(target.load(file('m.safetensors'), { optimizer: partial }), /saved for 4 parameters, the optimizer has 2/);

    const bytes = readFileSync(file('m.safetensors'));
    writeFileSync(file('truncated.safetensors'), bytes.subarray(0, bytes.length - 10));
    await expectFormat(target.load(file('truncated.safetensors')), /truncated|data section|size|bytes/i);
    const flipped = Buffer.from(bytes);
    const at = flipped.indexOf('"data_offsets":[0,');
    flipped.write('"data_offsets":[4,', at);
    writeFileSync(file('offsets.safetensors'), flipped);
    await expectFormat(target.load(file('offsets.safetensors')), /tensor '/);
    writeFileSync(file('garbage.safetensors'), Buffer.from('not a safetensors file at all'));
    await expectFormat(target.load(file('garbage.safetensors')), /./);
    await expectFormat(qkv.nn.load(file('garbage.safetensors')), /./);
    // A file without qkv.config cannot be rebuilt (but loads into a module).
    await qkv.saveSafetensors(file('plain.safetensors'), target.stateDict());
    await expectFormat(qkv.nn.load(file('plain.safetensors')), /no qkv\.config/);
    expect(await errorOf(target.load(file('missing.safetensors')))).toMatchObject({ code: 'ERR_IO' });
    expect(await errorOf(m.save(file('x.safetensors'), { metadata: { 'qkv.config': 'x' } }))).toBeInstanceOf(TypeError);
    const stranger = new qkv.optim.AdamW(new qkv.nn.Linear(2, 2));
    expect(await errorOf(m.save(file('x.safetensors'), { optimizer: stranger }))).toMatchObject({ message: expect.stringMatching(/not a parameter of the MLP/) });
  });
});
