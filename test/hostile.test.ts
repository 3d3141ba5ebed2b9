// The hostile sweep (npm run test:hostile, test/hostile/) reduced to a deterministic subset that
// runs in seconds: every export with a few hostile values of each kind in each position and in its
// first option keys, in child processes. No call may crash or hang, and every error must be of the
// right class (a TypeError, RangeError or coded QkvError naming the call: test/hostile/classify.ts).
import { describe, expect, it } from 'vitest';
import { casesOf, describeCase } from './hostile/cases';
import { plan, runCases } from './hostile/runner';
import { hostileByName } from './hostile/values';

const VALUES = ['undefined', 'string', 'NaN', '2**53', 'hugeShape2d', 'sharedFloat32Array', 'detachedFloat32Array', 'throwingProxy', 'disposedTensor', 'missingPath', 'corruptFile'];
const KEY_VALUES = ['null', '-1', 'throwingProxy'];
const memoryBytes = 4 * 2 ** 30;

describe('hostile sweep, reduced', () => {
  it('no export crashes or hangs, and every error is of the right class', async () => {
    const targets = await plan(memoryBytes);
    expect(targets.length).toBeGreaterThan(250);
    const cases = casesOf(targets, {
      values: VALUES.map((n) => hostileByName.get(n)!),
      keyValues: KEY_VALUES.map((n) => hostileByName.get(n)!),
      keysPerSlot: 2,
    });
    const results = await runCases({ targets, timeoutMs: 5000, silenceMs: 30_000, batchSize: 5000, parallel: 2, memoryBytes }, cases);
    const show = (outcome: string) => results.filter((r) => r.outcome === outcome)
      .map((r) => `${r.outcome} ${describeCase(cases[r.n])}: ${r.why ?? ''} ${r.error ? `${r.error.name} ${r.error.code ?? ''} ${r.error.message}` : ''}`);
    expect([...show('crash'), ...show('hang'), ...show('wrong')]).toEqual([]);
    expect(results.filter((r) => r.outcome === 'clean').length).toBeGreaterThan(cases.length / 2);
  }, 120_000);
});
