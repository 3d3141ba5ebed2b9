// Test-only native programs (CMake targets marked EXCLUDE_FROM_ALL, sources in test/native/): built
// here on demand, never by the npm build, so that test hooks stay out of the addon.
//
// They are built in the addon's own build folder (build/, made by `cmake-js compile` or the install
// script), where the qkv_core library already exists: only the test's source file compiles. Without
// that folder (an addon loaded from prebuilds/), a separate folder is configured the way
// `npm run bench:native` does it, which compiles the core once.
import { spawnSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';

const root = join(__dirname, '..', '..');

function cmakeOf(buildDir: string): string {
  // The cmake that configured the folder (cmake-js records it in the cache), else the one on PATH.
  const m = /^CMAKE_COMMAND:INTERNAL=(.+)$/m.exec(readFileSync(join(buildDir, 'CMakeCache.txt'), 'utf8'));
  return m && existsSync(m[1]) ? m[1] : 'cmake';
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}:\n${tail}`);
  }
}

// Builds CMake target `target` and returns the path of its executable.
export function buildNativeProgram(target: string): string {
  let buildDir = join(root, 'build');
  if (!existsSync(join(buildDir, 'CMakeCache.txt'))) {
    buildDir = join(root, 'build-native');
    if (!existsSync(join(buildDir, 'CMakeCache.txt')))
      run('cmake', ['-S', root, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release', '-DQKV_CUDA=OFF']);
  }
  run(cmakeOf(buildDir), ['--build', buildDir, '--target', target]);
  const exe = join(buildDir, 'native-tests', target);
  if (!existsSync(exe)) throw new Error(`building ${target} made no ${exe}`);
  return exe;
}

// Builds `target`, runs it with `args`, and parses its output: one JSON object per line.
export function runNativeProgram<T = Record<string, unknown>>(target: string, args: string[] = []): T[] {
  const exe = buildNativeProgram(target);
  const r = spawnSync(exe, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${exe}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${exe} exited with ${r.status}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}
