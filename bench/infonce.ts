// npm run bench:infonce — CLIP's contrastive loss, forward + backward at D = 512, float32, 2 threads:
// qkv.infoNCE (fused, tiled) against PyTorch's explicit
//   logits = s * a @ b.T; (F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y)) / 2
// (rows F.normalize'd first, as infoNCE does), in the same run, alternating between the two.
// Printed first: the CPU model (lscpu) and the peer's fp32 GEMM rate. Each measurement runs in its own process under /usr/bin/time -v for its peak memory; the memory
// columns subtract each runtime's idle process (inputs allocated, nothing run), which leaves the
// op's scratch, its gradients and (for PyTorch) the N x N logits and their gradients.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { measured, qkvEnv, torchEnv, tsx } from './measure';

const here = __dirname;
const qkvRun = (N: number, mode: string) => measured(tsx, [path.join(here, 'infonce_worker.ts'), String(N), mode], qkvEnv);
const torchOnce = (N: number, mode: string, env: NodeJS.ProcessEnv) => measured('/usr/bin/python3', [path.join(here, 'infonce_torch.py'), String(N), mode], env);
// PyTorch twice, with OpenMP's default (spinning) wait policy and with OMP_WAIT_POLICY=passive, keeping
// the faster: on a crowded machine spinning threads can slow it down several times (see bench:mlp).
const torchRun = (N: number, mode: string) =>
  [torchOnce(N, mode, torchEnv), torchOnce(N, mode, { ...torchEnv, OMP_WAIT_POLICY: 'passive' })].sort((x, y) => x.ms - y.ms)[0];

const cpu = /Model name:\s*(.*)/.exec(execFileSync('lscpu', { encoding: 'utf8' }))?.[1] ?? 'unknown';
const check = measured('/usr/bin/python3', [path.join(here, 'attention_torch.py'), '0', 'gemmcheck'], torchEnv);
console.log(`CPU: ${cpu}; PyTorch peer: ${check.extra.threads} threads, fp32 matmul 2048² = ${check.extra.gflops.toFixed(0)} GFLOP/s`);

const rows: string[] = [];
rows.push(`| N (D = 512, ${cpu}) | qkv ms | PyTorch ms | speed-up | qkv peak MB (Δ idle) | PyTorch peak MB (Δ idle) |`);
rows.push('|---|---|---|---|---|---|');
for (const N of [1024, 4096, 8192]) {
  const qIdle = qkvRun(N, 'idle'), tIdle = torchRun(N, 'idle');
  const a = qkvRun(N, 'fwdbwd'), b = torchRun(N, 'fwdbwd');
  const row = `| ${N} | ${a.ms.toFixed(1)} | ${b.ms.toFixed(1)} | ${(b.ms / a.ms).toFixed(2)}× | ${a.rssMB.toFixed(0)} (+${(a.rssMB - qIdle.rssMB).toFixed(0)}) | ${b.rssMB.toFixed(0)} (+${(b.rssMB - tIdle.rssMB).toFixed(0)}) |`;
  rows.push(row);
  console.log(row);
}
console.log('\n' + rows.join('\n'));
