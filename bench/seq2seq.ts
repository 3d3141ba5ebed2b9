// npm run bench:seq2seq — Seq2Seq training throughput (target tokens per second) of qkv against
// torch.nn.Transformer of the same size, on the same date-normalisation pairs, with the same batch
// size, recipe, schedule (warm-up + cosine over warm-up + timed steps) and batching, 2 threads each,
// in the same run. Each side runs `rounds` times,
// alternating (the peer each time with both OpenMP wait policies, the faster kept); the table
// reports the median of each.
//
// The peer is Debian's python3-torch 1.13 on OpenBLAS (openmp) rather than the reference BLAS it
// picks by default, so that it runs at its best.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as qkv from '../src/index';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const num = (k: string, d: number) => (args.has(k) ? Number(args.get(k)) : d);
const cfg = {
  dim: num('dim', 128),
  heads: num('heads', 4),
  ffDim: num('ffDim', 512),
  encoderLayers: num('layers', 2),
  decoderLayers: num('layers', 2),
  batchSize: num('batch', 64),
  steps: num('steps', 100),
  warmupSteps: 20,
  lr: 1e-3,
  maxLength: 48,
};
const rounds = num('rounds', 3);
const dropouts = args.has('dropout') ? [Number(args.get('dropout'))] : [0.1, 0];

const torchEnv: NodeJS.ProcessEnv = { ...process.env, LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp', OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2' };
delete torchEnv.OPENBLAS_CORETYPE;
delete torchEnv.OPENBLAS_L2_SIZE;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => os.loadavg()[0].toFixed(1);

async function main() {
  qkv.setThreads(2);
  console.log(`qkv on ${qkv.simd.level()}, ${qkv.threads()} threads; load average ${load()} at the start`);
  const pairs = qkv.data.generateDates(20_000, { seed: 1 });
  const vocab = qkv.CharVocab.build([...pairs.map((p) => p.source), ...pairs.map((p) => p.target)]);
  const sources = pairs.map((p) => vocab.encode(p.source, { eos: true }));
  const targets = pairs.map((p) => vocab.encode(p.target, { bos: true, eos: true }));
  // The peer runs with OpenMP's default (spinning) wait policy and with OMP_WAIT_POLICY=passive, and
  // the faster counts: on a shared machine spinning threads can slow PyTorch down several times.
  const runTorchWith = (dataFile: string, passive: boolean) => {
    const env = passive ? { ...torchEnv, OMP_WAIT_POLICY: 'passive' } : torchEnv;
    const out = execFileSync('/usr/bin/python3', [path.join(__dirname, 'seq2seq_torch.py'), dataFile], { env, encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop()!) as { tokensPerSec: number; params: number; threads: number; lastLoss: number };
  };
  const runTorch = (dataFile: string) => {
    const spin = runTorchWith(dataFile, false), passive = runTorchWith(dataFile, true);
    return { ...(passive.tokensPerSec > spin.tokensPerSec ? passive : spin), spin: spin.tokensPerSec, passive: passive.tokensPerSec };
  };
  const runQkv = async (dropout: number) => {
    const model = new qkv.Seq2Seq({ vocab, ...cfg, dropout, seed: 0 });
    // One schedule over warm-up + timed steps, as the peer runs it. Timing starts at the first
    // progress report at or after step warmupSteps (reports are coalesced, so one may be skipped:
    // its seconds and tokens go together either way); the loss is the mean of the last 20 steps'.
    const total = cfg.warmupSteps + cfg.steps;
    let start: { seconds: number; tokens: number } | null = null;
    const losses: number[] = [];
    const r = await model.fit(pairs, {
      batchSize: cfg.batchSize, lr: cfg.lr, weightDecay: 0.01, clipNorm: 1, maxSteps: total,
      onProgress: (p) => {
        if (!start && p.step >= cfg.warmupSteps) start = { seconds: p.seconds, tokens: p.tokensPerSec * p.seconds };
        if (p.step > total - 20) losses.push(p.loss);
      },
    });
    const s0 = start ?? { seconds: 0, tokens: 0 };
    const tokensPerSec = (r.tokens - s0.tokens) / (r.seconds - s0.seconds);
    const lastLoss = losses.reduce((x, y) => x + y, 0) / losses.length;
    const params = model.parameterCount;
    model.dispose();
    return { tokensPerSec, params, lastLoss };
  };

  const check = JSON.parse(execFileSync('/usr/bin/python3', [path.join(__dirname, 'seq2seq_torch.py'), '--gemmcheck'], { env: torchEnv, encoding: 'utf8' }));
  console.log(`PyTorch peer: ${check.threads} threads, fp32 matmul 2048² = ${check.gflops.toFixed(0)} GFLOP/s`);
  if (check.gflops < 120) console.log('warning: the PyTorch peer looks slow (a busy machine, or not OpenBLAS); check before quoting ratios');

  const table: string[] = [
    '| dropout | qkv Seq2Seq (target tokens/s) | torch.nn.Transformer (target tokens/s) | qkv / PyTorch (medians) | median of the rounds\' ratios |',
    '|---|---|---|---|---|',
  ];
  let qParams = 0, tParams = 0, tThreads = 0;
  for (const dropout of dropouts) {
    const dataFile = path.join(os.tmpdir(), `qkv-bench-seq2seq-${process.pid}.json`);
    fs.writeFileSync(dataFile, JSON.stringify({ ...cfg, dropout, vocabSize: vocab.size, sources, targets }));
    const q: number[] = [], t: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const a = runTorch(dataFile);
      t.push(a.tokensPerSec);
      tParams = a.params;
      tThreads = a.threads;
      const b = await runQkv(dropout);
      q.push(b.tokensPerSec);
      qParams = b.params;
      console.log(`dropout ${dropout}, round ${i + 1}: qkv ${b.tokensPerSec.toFixed(0)} tokens/s (loss ${b.lastLoss.toFixed(3)}), ` +
        `PyTorch ${a.tokensPerSec.toFixed(0)} tokens/s (spinning ${a.spin.toFixed(0)}, passive ${a.passive.toFixed(0)}; loss ${a.lastLoss.toFixed(3)})`);
    }
    fs.rmSync(dataFile, { force: true });
    const qm = median(q), tm = median(t);
    const ratios = q.map((x, i) => x / t[i]);
    table.push(`| ${dropout} | ${qm.toFixed(0)} (${q.map((x) => x.toFixed(0)).join(', ')}) | ${tm.toFixed(0)} (${t.map((x) => x.toFixed(0)).join(', ')}) | ` +
      `${(qm / tm).toFixed(2)}× | ${median(ratios).toFixed(2)}× (${ratios.map((r) => r.toFixed(2)).join(', ')}) |`);
  }
  if (qParams !== tParams) console.log(`warning: parameter counts differ (qkv ${qParams}, PyTorch ${tParams})`);
  const shape = `D=${cfg.dim}, H=${cfg.heads}, FF=${cfg.ffDim}, ${cfg.encoderLayers}+${cfg.decoderLayers} layers, pre-LN, batch ${cfg.batchSize}, vocabulary ${vocab.size}`;
  console.log(`\nload average ${load()} at the end`);
  console.log(`model: ${shape}; ${qParams} parameters (PyTorch ${tParams}); ${cfg.steps} timed steps after ${cfg.warmupSteps}; PyTorch threads ${tThreads}; medians of ${rounds} alternating rounds (all rounds in parentheses)\n`);
  console.log(table.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
