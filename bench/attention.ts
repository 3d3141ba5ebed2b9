// npm run bench:attention — causal attention (B=1, H=8, Dh=64), qkv's fused kernel against
// PyTorch's explicit matmul + mask + softmax + matmul, same machine, same run, 2 threads each.
// Each measurement runs in its own process under /usr/bin/time -v for its peak memory; the
// memory columns subtract each runtime's idle process (inputs allocated, nothing run).
import path from 'node:path';
import { measured as run, qkvEnv, torchEnv, tsx } from './measure';

const here = __dirname;
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
