// The hostile sweep (npm run test:hostile, test/hostile/) reduced to a deterministic subset that
// runs in seconds: every export with a few hostile values of each kind in each position and in its
// first option keys, in child processes. No call may crash, hang or throw an error of the wrong
// class (README "Errors").
import { describe, expect, it } from 'vitest';
import { casesOf, describeCase } from './hostile/cases';
import { plan, runCases } from './hostile/runner';
import { hostileByName } from './hostile/values';

const VALUES = ['undefined', 'string', 'NaN', '2**53', 'hugeShape2d', 'sharedFloat32Array', 'detachedFloat32Array', 'throwingProxy', 'disposedTensor', 'missingPath', 'corruptFile'];
const KEY_VALUES = ['null', '-1', 'throwingProxy'];
const memoryBytes = 4 * 2 ** 30;

describe('hostile sweep, reduced', () => {
  it('no export crashes, hangs or throws an error of the wrong class', async () => {
    const targets = await plan(memoryBytes);
    expect(targets.length).toBeGreaterThan(250);
    const cases = casesOf(targets, {
      values: VALUES.map((n) => hostileByName.get(n)!),
      keyValues: KEY_VALUES.map((n) => hostileByName.get(n)!),
      keysPerSlot: 2,
    });
    const results = await runCases({ targets, timeoutMs: 5000, silenceMs: 30_000, batchSize: 5000, parallel: 2, memoryBytes }, cases);
    const bad = results.filter((r) => r.outcome === 'crash' || r.outcome === 'hang' || r.outcome === 'wrong')
      .map((r) => `${r.outcome} ${describeCase(cases[r.n])}: ${r.why ?? ''} ${r.error ? `${r.error.name} ${r.error.code ?? ''} ${r.error.message}` : ''}`);
    expect(bad).toEqual([]);
    expect(results.filter((r) => r.outcome === 'clean').length).toBeGreaterThan(cases.length / 2);
  }, 120_000);
});
