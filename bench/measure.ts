// One measurement in its own process, for the benchmarks that compare peak memory: the command runs
// under /usr/bin/time -v (its peak resident set) and prints a JSON line last, which comes back with it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Measured {
  ms: number;
  rssMB: number;
  extra: Record<string, number>;
}

/** PyTorch at its best here: OpenBLAS with OpenMP, 2 threads. */
export const torchEnv = {
  ...process.env,
  LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp',
  OMP_NUM_THREADS: '2',
  OPENBLAS_NUM_THREADS: '2',
};
export const qkvEnv = { ...process.env, QKV_THREADS: '2' };
export const tsx = path.join(__dirname, '../node_modules/.bin/tsx');

export function measured(cmd: string, args: string[], env: NodeJS.ProcessEnv): Measured {
  const timeFile = path.join(os.tmpdir(), `qkv-bench-time-${process.pid}.txt`);
  const stdout = execFileSync('/usr/bin/time', ['-v', '-o', timeFile, cmd, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(fs.readFileSync(timeFile, 'utf8'))![1]) / 1024;
  fs.rmSync(timeFile, { force: true });
  const result = JSON.parse(stdout.trim().split('\n').pop()!);
  return { ms: result.ms, rssMB: rss, extra: result };
}
