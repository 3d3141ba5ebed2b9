// The guarded test device (QKV_DEVICE_GUARD=1 puts every tensor of the process on it): host code
// that bypasses the op dispatch fails loudly, while the ops give the CPU's results. The native
// program test/native/device_guard_check.cpp tries the bypasses from C++; here, from JavaScript,
// a tensor made on the guarded device works through the public API.
import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { runNativeProgram } from './helpers/native-program';

describe('guarded test device', () => {
  it('refuses host access to its memory outside the ops, and its ops equal the CPU bit for bit', () => {
    const checks = runNativeProgram<{ check: string; ok: boolean; detail: string }>('qkv_device_guard_check');
    expect(checks.length).toBe(7);
    for (const c of checks) expect(c.ok, `${c.check}: ${c.detail}`).toBe(true);
    const refused = checks.filter((c) => /throws|refused/.test(c.check));
    for (const c of refused) expect(c.detail).toMatch(/guarded/);
  }, 900_000);

  it('the whole process uses it under QKV_DEVICE_GUARD=1', () => {
    const t = qkv.randn([3, 4], { seed: 1 });
    expect(t.device).toBe(process.env.QKV_DEVICE_GUARD === '1' ? 'guarded' : 'cpu');
    expect(Array.from(qkv.matmul(t, qkv.transpose(t, 0, 1)).toTypedArray()).every(Number.isFinite)).toBe(true);
  });
});
