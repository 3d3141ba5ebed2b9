// Load: many async calls in flight at once, and long create/dispose cycles whose memory must stay
// flat. Bounds, not timings; each runs in a child process so that its RSS is its own.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const entry = JSON.stringify(path.join(__dirname, '../src/index.ts'));

function runChild(body: string): unknown {
  const script = `
    const qkv = require(${entry});
    (async () => { ${body} })().then((r) => process.stdout.write('\\n' + JSON.stringify(r) + '\\n'));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 110_000 });
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

describe('load', () => {
  it('1,000 async calls in flight at once all settle with the right values', () => {
    const r = runChild(`
      const a = qkv.full([16, 16], 0.5);
      const calls = [];
      for (let i = 0; i < 1000; i++) {
        const b = qkv.full([16, 16], i);
        calls.push(qkv.matmulAsync(a, b).then((c) => { const v = c.toTypedArray()[0]; c.dispose(); b.dispose(); return v; }));
      }
      const values = await Promise.all(calls);
      return { n: values.length, wrong: values.filter((v, i) => v !== 8 * i).length };
    `);
    expect(r).toEqual({ n: 1000, wrong: 0 });
  });

  it('10,000 create/dispose cycles of tensors, modules and optimizers keep the RSS flat', () => {
    const r = runChild(`
      const cycle = async () => {
        const t = qkv.randn([64, 64]);
        const m = new qkv.nn.Linear(64, 64);
        const opt = new qkv.optim.AdamW(m, { lr: 1e-3 });
        const y = m.forward(t);
        const loss = qkv.sum(y);
        loss.backward();
        loss.dispose();
        opt.step();
        y.dispose();
        t.dispose();
        await m.dispose();
      };
      // Handles the caller drops (parameters handed to the optimizer, the optimizer itself) are freed
      // by N-API finalizers, which run from the event loop: yield to it now and then, as a service does.
      const run = async (n) => { for (let i = 0; i < n; i++) { await cycle(); if (i % 10 === 9) await new Promise((r) => setImmediate(r)); } };
      const rss = async () => {
        for (let k = 0; k < 10; k++) { global.gc(); await new Promise((r) => setTimeout(r, 20)); }
        return process.memoryUsage().rss;
      };
      await run(5000);  // warm up: allocator pools, JIT, the V8 heap settling at its working size
      const before = await rss();
      await run(10000);
      const after = await rss();
      return { growthMB: (after - before) / 2 ** 20 };
    `) as { growthMB: number };
    // One cycle allocates about 100 KB (weights, gradients, Adam's moments, activations): a leak of
    // even one of them would add about 160 MB over 10,000 cycles.
    expect(r.growthMB).toBeLessThan(16);
  });
});
