import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const index = path.join(__dirname, '../src/index.ts');
function child(env: Record<string, string>, code: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', '-e', `const qkv = require(${JSON.stringify(index)}); ${code}`], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  }).trim();
}

describe('runtime', () => {
  it('QKV_SIMD forces a lower level at load time, and an unknown value falls back safely', () => {
    expect(child({ QKV_SIMD: 'scalar' }, 'console.log(qkv.simd.level())')).toBe('scalar');
    if (qkv.simd.available().includes('avx2')) expect(child({ QKV_SIMD: 'avx2' }, 'console.log(qkv.simd.level())')).toBe('avx2');
    expect(child({ QKV_SIMD: 'bogus' }, 'console.log(qkv.simd.level())')).toBe(qkv.simd.supported());
    // asking for more than the processor has never selects unsupported code
    expect(qkv.simd.available()).toContain(child({ QKV_SIMD: 'avx512' }, 'console.log(qkv.simd.level())'));
  });

  it('QKV_THREADS sizes the pool; setThreads resizes it; results do not depend on it', () => {
    expect(child({ QKV_THREADS: '3' }, 'console.log(qkv.threads())')).toBe('3');
    const a = qkv.randn([300, 200], { seed: 1 }), b = qkv.randn([200, 100], { seed: 2 });
    const before = qkv.threads();
    qkv.setThreads(1);
    const one = qkv.matmul(a, b).toTypedArray();
    qkv.setThreads(2);
    expect(qkv.threads()).toBe(2);
    const two = qkv.matmul(a, b).toTypedArray();
    qkv.setThreads(before);
    let maxDiff = 0;
    for (let i = 0; i < one.length; i++) maxDiff = Math.max(maxDiff, Math.abs(one[i] - two[i]));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('the pool serves bursts of short parallel calls, polling between them or sleeping (QKV_SPIN_US)', () => {
    // Many pool calls, some after pauses long enough for the workers to fall asleep: a lost
    // wake-up would hang the child, a task run twice or not at all would change the checksum.
    const code = `
      const a = qkv.randn([200, 200], { seed: 5 }), b = qkv.randn([200, 200], { seed: 6 });
      let s = 0;
      for (let i = 0; i < 400; i++) {
        const c = qkv.matmul(a, b), e = qkv.softmax(c);
        s += c.toTypedArray()[i % 40000] + e.toTypedArray()[(7 * i) % 40000];
        c.dispose(); e.dispose();
        if (i % 50 === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
      }
      console.log(s.toFixed(6));`;
    const polling = child({ QKV_THREADS: '4' }, code);
    expect(child({ QKV_THREADS: '4', QKV_SPIN_US: '0' }, code)).toBe(polling);
    expect(child({ QKV_THREADS: '1' }, code)).toBe(polling);
  });

  it('matmulAsync runs off the event loop: timers keep firing while it works', async () => {
    const a = qkv.randn([1024, 1024], { seed: 3 }), b = qkv.randn([1024, 1024], { seed: 4 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = Date.now();
    const pending = qkv.matmulAsync(a, b);
    expect(pending).toBeInstanceOf(Promise);
    let c = await pending;
    // repeat until the work took long enough for a timer to have a chance
    while (Date.now() - started < 30) c = await qkv.matmulAsync(a, b);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    const sync = qkv.matmul(a, b).toTypedArray();
    expect(Array.from(c.toTypedArray().subarray(0, 100))).toEqual(Array.from(sync.subarray(0, 100)));
    // a disposed input rejects instead of crashing
    a.dispose();
    await expect(qkv.matmulAsync(a, b)).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
  });

  it('lists every op once in the registry', () => {
    const reg = qkv.opRegistry();
    const names = reg.map((o) => o.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['matmul', 'add', 'softmax', 'layerNorm', 'crossEntropy', 'embedding', 'concat']));
    expect(reg.find((o) => o.name === 'matmul')).toEqual({ name: 'matmul', inputs: 2, differentiable: true });
  });
});
