// The optional CUDA plugin: the addon loads everywhere, reports honestly whether CUDA can run and
// why not, finds the plugin next to itself, and fails with clear errors where CUDA is missing.
// On a machine with no driver (CI, dev boxes) the loader paths are exercised in child processes:
// QKV_CUDA=0, a forced plugin load (the CUDA runtime's own error) and a stub libcuda.so.1; stub
// plugins (test/fixtures/cuda_stub_plugin.c) check the ABI version and the CUDA device's wiring.
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { afterAll, describe, expect, it } from 'vitest';

import { cuda } from '../src/cuda';
import { QkvError } from '../src/errors';
import * as qkv from '../src/index';

const root = path.join(__dirname, '..');
const info = cuda.info();
const PLUGIN = 'libqkv_cuda.so';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

// Whether the dynamic loader can see a libcuda.so.1, found without asking qkv.
function driverOnSystem(): boolean {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (dirs.some((d) => fs.existsSync(path.join(d, 'libcuda.so.1')))) return true;
  const r = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' });
  if (r.status === 0) return /\blibcuda\.so\.1\b/.test(r.stdout);
  return ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/local/cuda/compat', '/usr/lib/wsl/lib'].some((d) =>
    fs.existsSync(path.join(d, 'libcuda.so.1')),
  );
}

// Whether the build that made the loaded addon had nvcc (then the plugin must sit beside it).
function pluginExpected(addonPath: string): boolean {
  const cache = path.join(path.dirname(path.dirname(addonPath)), 'CMakeCache.txt');  // build/Release/.. = build
  if (fs.existsSync(cache)) {
    const m = /^CMAKE_CUDA_COMPILER:\w+=(.*)$/m.exec(fs.readFileSync(cache, 'utf8'));
    return !!m && m[1] !== '' && !m[1].endsWith('NOTFOUND');
  }
  return has('nvcc');
}

interface ChildError {
  name: string;
  code?: string;
  message: string;
}

// Runs the raw addon in a child process with `env` added; returns its JSON line.
function childReport(env: Record<string, string>): {
  info: Record<string, unknown>;
  add?: number[];
  error?: ChildError;
} {
  return child(
    env,
    `const out = { info: b.cudaInfo() };
    try { out.add = Array.from(b.cudaAddF32(new Float32Array([1, 2, 3]), new Float32Array([10, 20, 30]))); }
    catch (e) { out.error = { name: e.name, code: e.code, message: e.message }; }`,
  );
}

// Moves a tensor to the CUDA device and back, then runs an op there, in a child process.
function childTensor(env: Record<string, string>): {
  info: Record<string, unknown>;
  roundTrip?: number[];
  device?: string;
  moveError?: ChildError;
  opError?: ChildError;
} {
  return child(
    env,
    `const out = { info: b.cudaInfo() };
    const err = (e) => ({ name: e.name, code: e.code, message: e.message });
    const t = b.fromTyped(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    let c;
    try { c = b.toDevice(t, 'cuda'); out.device = c.device(); } catch (e) { out.moveError = err(e); }
    if (c) {
      out.roundTrip = Array.from(b.toDevice(c, 'cpu').toTypedArray());
      try { b.binary('add', c, c); } catch (e) { out.opError = err(e); }
    }`,
  );
}

function child<T>(env: Record<string, string>, body: string): T {
  const script = `
    const b = require('node-gyp-build')(${JSON.stringify(root)});
    ${body}
    process.stdout.write(JSON.stringify(out));`;
  const clean = { ...process.env };
  delete clean.QKV_CUDA;
  delete clean.QKV_CUDA_PLUGIN;
  delete clean.QKV_CUDA_FORCE_PLUGIN;
  const stdout = execFileSync(process.execPath, ['-e', script], { env: { ...clean, ...env }, encoding: 'utf8', cwd: root });
  return JSON.parse(stdout);
}

describe('cuda: report', () => {
  it('is exported from the package as qkv.cuda', () => {
    expect(qkv.cuda).toBe(cuda);
  });

  it('available() is a boolean that agrees with info()', () => {
    expect(typeof cuda.available()).toBe('boolean');
    expect(cuda.available()).toBe(info.available);
    expect(info.deviceCount).toBeGreaterThanOrEqual(0);
    if (info.available) {
      expect(info.reason).toBeUndefined();
      expect(info.deviceCount).toBeGreaterThan(0);
      expect(info.devices).toHaveLength(info.deviceCount);
    } else {
      expect(typeof info.reason).toBe('string');
      expect(info.reason!.length).toBeGreaterThan(10);
    }
  });

  it('says the driver is missing where the system has no libcuda.so.1, and then never loads the plugin', () => {
    if (driverOnSystem() || process.env.QKV_CUDA) return; // covered by the GPU branch below
    expect(info.available).toBe(false);
    expect(info.driverFound).toBe(false);
    expect(info.reason).toMatch(/CUDA driver not found.*libcuda\.so\.1/);
    expect(info.driverError).toMatch(/libcuda\.so\.1/);
    expect(info.pluginLoaded).toBe(false);
    expect(info.deviceCount).toBe(0);
    expect(info.devices).toBeUndefined();
    expect(info.runtimeVersion).toBeUndefined();
  });

  it('reports a driver and its devices where the system has one', () => {
    if (!driverOnSystem() || process.env.QKV_CUDA) return;
    expect(info.driverFound).toBe(true);
    if (info.pluginPath) {
      expect(info.pluginLoaded).toBe(true);
      expect(info.runtimeVersion).toBeGreaterThanOrEqual(13000);
    }
    for (const d of info.devices ?? []) {
      expect(d.name.length).toBeGreaterThan(0);
      expect(d.totalMemory).toBeGreaterThan(0);
      expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
    }
  });

  it('finds the plugin next to the loaded addon when the build had nvcc', () => {
    expect(info.addonPath).toMatch(/(build\/Release|prebuilds\/linux-x64)\/qkv\.node$/);
    const beside = path.join(path.dirname(info.addonPath!), PLUGIN);
    if (!pluginExpected(info.addonPath!)) {
      expect(info.pluginPath).toBe(fs.existsSync(beside) ? beside : null);
      return;
    }
    expect(fs.existsSync(beside)).toBe(true);
    expect(info.pluginPath).toBe(beside);
  });

  it('builds the plugin with a static CUDA runtime and one exported symbol', () => {
    const plugin = info.pluginPath;
    if (!plugin || !has('readelf') || !has('nm')) return;
    const needed = execFileSync('readelf', ['-d', plugin], { encoding: 'utf8' });
    expect(needed).not.toMatch(/libcudart|libcuda\.so/);
    const exported = execFileSync('nm', ['-D', '--defined-only', plugin], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.trim().split(/\s+/).pop());
    expect(exported).toEqual(['qkv_cuda_plugin_v2']);
  });
});

describe('cuda: add', () => {
  const a = new Float32Array(1003).map((_, i) => i * 0.5 - 100);
  const b = new Float32Array(1003).map((_, i) => Math.sin(i));

  it('adds on the GPU where CUDA is available, else throws QkvError ERR_UNSUPPORTED with the reason', () => {
    if (cuda.available()) {
      const out = cuda.add(a, b);
      expect(out).toBeInstanceOf(Float32Array);
      expect(out.length).toBe(a.length);
      for (let i = 0; i < a.length; i++) expect(out[i]).toBe(Math.fround(a[i] + b[i]));
      expect(cuda.add(new Float32Array(0), new Float32Array(0))).toHaveLength(0);
      return;
    }
    let err: unknown;
    try {
      cuda.add(a, b);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QkvError);
    expect((err as QkvError).code).toBe('ERR_UNSUPPORTED');
    expect((err as QkvError).message).toContain('CUDA is not available');
    expect((err as QkvError).message).toContain(info.reason!);
  });

  it('checks its arguments before anything else', () => {
    expect(() => cuda.add([1, 2] as unknown as Float32Array, b)).toThrow(TypeError);
    expect(() => cuda.add(new Float64Array(3) as unknown as Float32Array, new Float32Array(3))).toThrow(
      /a must be a Float32Array/,
    );
    expect(() => cuda.add(new Float32Array(3), new Float32Array(4))).toThrow(RangeError);
    expect(() => cuda.add(new Float32Array(3), new Float32Array(4))).toThrow(/same length, got 3 and 4/);
  });
});

// These exercise the loader's other paths on a machine without a GPU.
describe.skipIf(driverOnSystem())('cuda: loader paths without a GPU (child processes)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-cuda-test-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('QKV_CUDA=0 switches CUDA off, with that as the reason', () => {
    const r = childReport({ QKV_CUDA: '0' });
    expect(r.info.available).toBe(false);
    expect(r.info.reason).toBe('CUDA disabled by QKV_CUDA=0');
    expect(r.info.pluginLoaded).toBe(false);
    expect(r.error?.code).toBe('ERR_UNSUPPORTED');
    expect(r.error?.message).toContain('QKV_CUDA=0');
  });

  it('QKV_CUDA_PLUGIN pointing at a missing file reports that file', () => {
    const missing = path.join(tmp, 'nope', PLUGIN);
    const r = childReport({ QKV_CUDA_PLUGIN: missing, QKV_CUDA_FORCE_PLUGIN: '1' });
    expect(r.info.pluginPath).toBeNull();
    expect(r.info.pluginLoaded).toBe(false);
    expect(r.info.pluginError).toContain(missing);
  });

  it.skipIf(!info.pluginPath)('a forced plugin load runs the plugin: its runtime reports the missing driver', () => {
    const r = childReport({ QKV_CUDA_FORCE_PLUGIN: '1' });
    expect(r.info.pluginLoaded).toBe(true);
    expect(r.info.available).toBe(false);
    expect(r.info.runtimeVersion).toBeGreaterThanOrEqual(13000);
    expect(String(r.info.architectures)).toMatch(/800.*900/);
    expect(r.info.reason).toMatch(/cudaErrorInsufficientDriver/);
    // With the plugin forced in, the add reaches the CUDA runtime and fails there: ERR_CUDA.
    expect(r.error?.code).toBe('ERR_CUDA');
    expect(r.error?.message).toMatch(/^cuda\.add: cudaGetDeviceCount: cudaErrorInsufficientDriver/);
  });

  it.skipIf(!info.pluginPath || !has('cc'))('a libcuda.so.1 that is not a working driver: found, plugin loaded, not available', () => {
    fs.writeFileSync(path.join(tmp, 'stub.c'), 'int qkv_stub_libcuda(void) { return 0; }\n');
    execFileSync('cc', ['-shared', '-fPIC', '-o', path.join(tmp, 'libcuda.so.1'), path.join(tmp, 'stub.c')]);
    const r = childReport({ LD_LIBRARY_PATH: tmp });
    expect(r.info.driverFound).toBe(true);
    expect(r.info.pluginLoaded).toBe(true);
    expect(r.info.available).toBe(false);
    expect(r.info.deviceCount).toBe(0);
    expect(r.info.reason).toMatch(/^CUDA runtime 13\.\d+ cannot use the driver.*cudaErrorInsufficientDriver/);
    expect(r.error?.code).toBe('ERR_UNSUPPORTED');
  });

  it.skipIf(!info.pluginPath)('a CUDA tensor through a forced plugin load fails in the CUDA runtime: ERR_CUDA', () => {
    const r = childTensor({ QKV_CUDA_FORCE_PLUGIN: '1' });
    expect(r.moveError?.code).toBe('ERR_CUDA');
    expect(r.moveError?.message).toMatch(/^toDevice: cudaGetDeviceCount: cudaErrorInsufficientDriver/);
  });
});

describe('cuda: tensors', () => {
  it('toDevice("cuda") gives a QkvError ERR_UNSUPPORTED with the reason where CUDA is not available', () => {
    const t = qkv.Tensor.from(new Float32Array([1, 2, 3]));
    if (cuda.available()) {
      const c = t.toDevice('cuda');
      expect(c.device).toBe('cuda');
      expect(Array.from(c.toDevice('cpu').toTypedArray())).toEqual([1, 2, 3]);
      return;
    }
    let err: unknown;
    try {
      t.toDevice('cuda');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QkvError);
    expect((err as QkvError).code).toBe('ERR_UNSUPPORTED');
    expect((err as QkvError).message).toBe(`toDevice: CUDA is not available: ${info.reason}`);
  });

  it('toDevice checks the device name and returns the tensor itself for its own device', () => {
    const t = qkv.Tensor.from(new Float32Array([1, 2]));
    expect(() => t.toDevice('tpu' as qkv.Device)).toThrow(TypeError);
    expect(() => t.toDevice('tpu' as qkv.Device)).toThrow(/device must be 'cpu', 'cuda' or 'guarded', got 'tpu'/);
    expect(Array.from(t.toDevice(t.device).toTypedArray())).toEqual([1, 2]);
    const other = t.device === 'cpu' ? 'guarded' : 'cpu';
    const moved = t.toDevice(other);
    expect(moved.device).toBe(other);
    expect(Array.from(moved.toDevice(t.device).toTypedArray())).toEqual([1, 2]);
  });
});

// Stub plugins that need no GPU (host memory, no kernels), loaded with QKV_CUDA_PLUGIN and forced.
describe.skipIf(!has('cc'))('cuda: the plugin ABI, with stub plugins', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-cuda-stub-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function stub(name: string, defines: string[]): Record<string, string> {
    const out = path.join(tmp, name);
    const src = path.join(root, 'test', 'fixtures', 'cuda_stub_plugin.c');
    execFileSync('cc', ['-shared', '-fPIC', '-I', path.join(root, 'cpp'), ...defines, '-o', out, src]);
    return { QKV_CUDA_PLUGIN: out, QKV_CUDA_FORCE_PLUGIN: '1' };
  }

  it('refuses a plugin whose table declares another ABI version, naming both', () => {
    const r = childTensor(stub('abi3.so', ['-DSTUB_ABI=3']));
    expect(r.info.pluginLoaded).toBe(false);
    expect(r.info.pluginAbi).toBe(3);
    expect(r.info.pluginError).toBe(
      'ABI version mismatch: the plugin implements ABI version 3, this addon needs version 2 (rebuild the plugin with the addon)',
    );
    expect(r.info.reason).toContain('ABI version mismatch');
    expect(r.moveError?.code).toBe('ERR_UNSUPPORTED');
    expect(r.moveError?.message).toContain('ABI version mismatch');
  });

  it('refuses a version 1 plugin (the old entry point only)', () => {
    const r = childTensor(stub('v1.so', ['-DSTUB_V1_ONLY']));
    expect(r.info.pluginLoaded).toBe(false);
    expect(r.info.pluginAbi).toBe(1);
    expect(r.info.pluginError).toMatch(/^ABI version mismatch: the plugin implements ABI version 1, this addon needs version 2/);
    expect(r.moveError?.code).toBe('ERR_UNSUPPORTED');
  });

  it('wires a plugin of the current ABI: the allocator and host copies work, a missing kernel is ERR_UNSUPPORTED', () => {
    const r = childTensor(stub('v2.so', []));
    expect(r.info.pluginLoaded).toBe(true);
    expect(r.info.pluginAbi).toBe(2);
    expect(r.moveError).toBeUndefined();
    expect(r.device).toBe('cuda');
    expect(r.roundTrip).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.opError?.code).toBe('ERR_UNSUPPORTED');
    expect(r.opError?.message).toBe('add: not implemented on device cuda');
  });
});
