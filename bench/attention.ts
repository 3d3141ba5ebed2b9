// npm run bench:attention — causal attention (B=1, H=8, Dh=64), qkv's fused kernel against
// PyTorch's explicit matmul + mask + softmax + matmul, same machine, same run, 2 threads each.
// Each measurement runs in its own process under /usr/bin/time -v for its peak memory; the
// memory columns subtract each runtime's idle process (inputs allocated, nothing run).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = __dirname;
const torchEnv = {
  ...process.env,
  LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp',
  OMP_NUM_THREADS: '2',
  OPENBLAS_NUM_THREADS: '2',
};
const qkvEnv = { ...process.env, QKV_THREADS: '2' };

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): { ms: number; rssMB: number; extra: Record<string, number> } {
  const timeFile = path.join(os.tmpdir(), `qkv-bench-time-${process.pid}.txt`);
  const stdout = execFileSync('/usr/bin/time', ['-v', '-o', timeFile, cmd, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(fs.readFileSync(timeFile, 'utf8'))![1]) / 1024;
  fs.rmSync(timeFile, { force: true });
  const result = JSON.parse(stdout.trim().split('\n').pop()!);
  return { ms: result.ms, rssMB: rss, extra: result };
}

const tsx = path.join(here, '../node_modules/.bin/tsx');
const qkvRun = (T: number, mode: string) => run(tsx, [path.join(here, 'attention_worker.ts'), String(T), mode], qkvEnv);
const torchRun = (T: number, mode: string) => run('/usr/bin/python3', [path.join(here, 'attention_torch.py'), String(T), mode], torchEnv);

const check = torchRun(2048, 'gemmcheck');
console.log(`PyTorch peer: ${check.extra.threads} threads, fp32 matmul 2048² = ${check.extra.gflops.toFixed(0)} GFLOP/s`);
if (check.extra.gflops < 120) console.log('warning: the PyTorch peer looks slow; check LD_LIBRARY_PATH / OpenBLAS before quoting ratios');

const rows: string[] = [];
rows.push('| T | pass | qkv ms | PyTorch ms | speed-up | qkv peak MB (Δ idle) | PyTorch peak MB (Δ idle) |');
rows.push('|---|---|---|---|---|---|---|');
for (const T of [512, 1024, 2048, 4096]) {
  const qIdle = qkvRun(T, 'idle'), tIdle = torchRun(T, 'idle');
  for (const mode of ['fwd', 'fwdbwd']) {
    const a = qkvRun(T, mode), b = torchRun(T, mode);
    const row = `| ${T} | ${mode === 'fwd' ? 'forward' : 'forward+backward'} | ${a.ms.toFixed(1)} | ${b.ms.toFixed(1)} | ${(b.ms / a.ms).toFixed(2)}× | ${a.rssMB.toFixed(0)} (+${(a.rssMB - qIdle.rssMB).toFixed(0)}) | ${b.rssMB.toFixed(0)} (+${(b.rssMB - tIdle.rssMB).toFixed(0)}) |`;
    rows.push(row);
    console.log(row);
  }
}
console.log('\n' + rows.join('\n'));
