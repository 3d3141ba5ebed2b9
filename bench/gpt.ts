// npm run bench:gpt — qkv.GPT against a plain nanoGPT-style PyTorch GPT-2 (bench/gpt_torch.py) and
// onnxruntime-node, side by side in one run, on the same weights (qkv writes them in Hugging Face's
// layout; PyTorch loads them and exports them to ONNX), 2 threads each:
//   1. nanoGPT's CPU recipe for character-level Shakespeare (data/tinyshakespeare.txt, 90/10 split,
//      65 characters): 4 layers, 4 heads, width 128, context 64, batch 12, 2,000 iterations, lr 1e-3
//      → 1e-4 cosine after 100 warm-up steps, AdamW β2 0.99, weight decay 0.1, clip 1, dropout 0;
//      the final validation loss on the whole validation split and the wall time of training.
//   2. training tokens/s on random tokens at 4 layers / 256 / context 256 / vocabulary 8,192 / batch 8
//      and 6 / 512 / 512 / 16,384 / batch 4 (qkv at 1 and 2 threads);
//   3. generation (batch 1, prompt 32 + 128 new tokens, greedy, key/value cache in both) and the
//      forward latency of one row of 256 tokens against onnxruntime-node;
//   4. GPT-2 124M's shape with random weights: decode tokens/s and the fraction of the memory-bandwidth
//      bound (weight bytes read per token ÷ a measured copy bandwidth);
//   5. the peak RSS of each measurement: each runs in its own process (qkv and onnxruntime:
//      process.resourceUsage().maxRSS, this file with --child; PyTorch: resource.getrusage).
// Rounds alternate the libraries; the table shows medians (all rounds in parentheses).
//
//   npm run bench:gpt                 (QKV_THREADS=2)
//   npm run bench:gpt -- --quick      (200 Shakespeare iterations, one round, fewer timed steps: a smoke test)
//   npm run bench:gpt -- --rounds=5 --only=shakespeare,train,generate,gpt2
//
// PyTorch is Debian's python3-torch 1.13 on OpenBLAS with OpenMP (LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp,
// from libopenblas0-openmp), torch.set_num_threads(2); its fp32 GEMM rate at 2048² is printed first.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as qkv from '../src/index';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const quick = args.has('quick');
const rounds = Number(args.get('rounds') ?? (quick ? 1 : 3));
const only = new Set((args.get('only') ?? 'shakespeare,train,generate,gpt2').split(','));
const here = __dirname;
const tsx = path.join(here, '../node_modules/.bin/tsx');
const torchEnv: NodeJS.ProcessEnv = { ...process.env, LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp', OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2' };
delete torchEnv.OPENBLAS_CORETYPE;
delete torchEnv.OPENBLAS_L2_SIZE;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (v: number, d = 0) => v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
const maxRssMB = () => process.resourceUsage().maxRSS / 1024;

interface Shape { vocab: number; maxLength: number; dim: number; layers: number; heads: number }
const SHAKESPEARE = {
  layers: 4, heads: 4, dim: 128, context: 64, batch: 12, steps: quick ? 200 : 2000, lr: 1e-3, minLr: 1e-4, warmupSteps: 100, beta2: 0.99,
  weightDecay: 0.1, clipNorm: 1,
};
const TRAIN_SHAPES: { shape: Shape; batch: number; warmup: number; steps: number }[] = [
  { shape: { layers: 4, dim: 256, heads: 4, maxLength: 256, vocab: 8192 }, batch: 8, warmup: 2, steps: quick ? 4 : 10 },
  { shape: { layers: 6, dim: 512, heads: 8, maxLength: 512, vocab: 16384 }, batch: 4, warmup: 1, steps: quick ? 2 : 4 },
];
const GEN_SHAPE: Shape = TRAIN_SHAPES[0].shape;
const GPT2: Shape = { layers: 12, dim: 768, heads: 12, maxLength: 1024, vocab: 50257 };
const PROMPT = Array.from({ length: 32 }, (_, i) => (i * 977 + 13) % GEN_SHAPE.vocab);
const NEW_TOKENS = 128;
const FORWARD_IDS = Array.from({ length: 256 }, (_, i) => (i * 7919 + 1) % GEN_SHAPE.vocab);

// ---- one measurement per process --------------------------------------------------------------------

/**
 * A GPT of `shape` from `seed` (the same weights every time: qkv's initialisation is seeded). Random
 * models get a tokenizer of `vocab` made-up words, as generate() decodes every id it yields.
 */
function makeGPT(shape: Shape, seed: number, tokenizer?: qkv.Tokenizer): qkv.GPT {
  const words = () => qkv.WordVocab.build([Array.from({ length: shape.vocab }, (_, i) => `w${i}`).join(' ')], { specials: {} });
  return new qkv.GPT({
    tokenizer: tokenizer ?? words(), vocabSize: shape.vocab, maxLength: shape.maxLength,
    layers: shape.layers, dim: shape.dim, heads: shape.heads, dropout: 0, seed,
  });
}

const readI32 = (file: string) => new Int32Array(new Uint8Array(fs.readFileSync(file)).buffer);
const readF32 = (file: string) => new Float32Array(new Uint8Array(fs.readFileSync(file)).buffer);
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return a.length === b.length ? worst : Infinity;
}

async function timeCalls(reps: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();  // warm-up
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const CHILD: Record<string, (spec: any) => Promise<Record<string, unknown>>> = {
  /** Writes the weights of makeGPT(shape, seed) in Hugging Face's layout for the peers. */
  async weights(spec) {
    const gpt = makeGPT(spec.shape, spec.seed, spec.chars ? qkv.CharVocab.build([fs.readFileSync(spec.chars, 'utf8')], { specials: {} }) : undefined);
    await gpt.save(spec.dir, { format: 'huggingface' });
    await gpt.dispose();
    return {};
  },
  async shakespeare(spec) {
    const vocab = qkv.CharVocab.build([fs.readFileSync(spec.chars, 'utf8')], { specials: {} });
    const gpt = makeGPT({ layers: spec.layers, heads: spec.heads, dim: spec.dim, maxLength: spec.context, vocab: vocab.size }, spec.seed, vocab);
    const r = await gpt.fit(readI32(spec.train), {
      maxSteps: spec.steps, batchSize: spec.batch, context: spec.context, lr: spec.lr, minLr: spec.minLr, warmupSteps: spec.warmupSteps,
      beta2: spec.beta2, weightDecay: spec.weightDecay, clipNorm: spec.clipNorm, seed: 1,
    });
    const ev = await gpt.evaluate(readI32(spec.val), { context: spec.context });
    const tail = r.history.slice(-50);
    const sample = await gpt.generate('ROMEO:', { maxNewTokens: 80, stopAtEos: false });
    await gpt.dispose();
    return { seconds: r.seconds, valLoss: ev.loss, trainLoss: tail.reduce((s, h) => s + h.loss, 0) / tail.length, firstLoss: r.history[0].loss, steps: r.steps, sample: sample.text };
  },
  async train(spec) {
    const { shape, batch, warmup, steps } = spec;
    const gpt = makeGPT(shape, spec.seed);
    const n = batch * shape.maxLength * (warmup + steps + 2) + shape.maxLength + 2;
    const tokens = Int32Array.from({ length: n }, (_, i) => (Math.imul(i + 1, 2654435761) >>> 0) % shape.vocab);  // random enough
    const opts = { batchSize: batch, context: shape.maxLength, lr: 1e-4, warmupSteps: 0, schedule: 'constant' as const, seed: 0 };
    await gpt.fit(tokens, { ...opts, maxSteps: warmup });
    const r = await gpt.fit(tokens, { ...opts, maxSteps: steps });
    await gpt.dispose();
    return { tokensPerSec: r.tokens / r.seconds, stepMs: (1000 * r.seconds) / r.steps };
  },
  async generate(spec) {
    const gpt = makeGPT(spec.shape, spec.seed);
    let ids: number[] = [];
    const ms = await timeCalls(spec.reps, async () => (ids = (await gpt.generate(spec.prompt, { maxNewTokens: spec.newTokens, stopAtEos: false })).ids));
    await gpt.dispose();
    return { tokensPerSec: spec.newTokens / (ms / 1000), ids };
  },
  async forward(spec) {
    const gpt = makeGPT(spec.shape, spec.seed);
    const ms = await timeCalls(spec.reps, async () => (await gpt.logits([spec.ids])).dispose());
    const lg = await gpt.logits([spec.ids]);
    const diff = maxAbsDiff(lg.toTypedArray() as Float32Array, readF32(spec.logits));
    lg.dispose();
    await gpt.dispose();
    return { ms, maxAbsDiff: diff };
  },
  async ort(spec) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
    const session = await ort.InferenceSession.create(spec.onnx, {
      intraOpNumThreads: spec.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    });
    const feeds = { ids: new ort.Tensor('int64', BigInt64Array.from(spec.ids.map(BigInt)), [1, spec.ids.length]) };
    let logits: Float32Array = new Float32Array();
    const ms = await timeCalls(spec.reps, async () => (logits = (await session.run(feeds)).logits.data as Float32Array));
    return { ms, maxAbsDiff: maxAbsDiff(logits, readF32(spec.logits)), ort: ort.env.versions.common };
  },
  async decode(spec) {
    const gpt = makeGPT(spec.shape, spec.seed);
    const gen = (n: number) => gpt.generate(spec.prompt, { maxNewTokens: n, stopAtEos: false });
    const t1: number[] = [], tn: number[] = [];
    await gen(4);
    for (let r = 0; r < spec.reps; r++) {
      let t0 = performance.now();
      await gen(1);
      t1.push(performance.now() - t0);
      t0 = performance.now();
      await gen(1 + spec.newTokens);
      tn.push(performance.now() - t0);
    }
    // Read per decoded token: every parameter but the position table (one row of it), the token table once (the tied head).
    let weightBytes = 0;
    for (const [name, p] of gpt.namedParameters()) if (name !== 'wpe.weight') weightBytes += 4 * p.shape.reduce((a, b) => a * b, 1);
    const params = gpt.parameterCount;
    await gpt.dispose();
    return { tokensPerSec: spec.newTokens / ((median(tn) - median(t1)) / 1000), prefillMs: median(t1), weightBytes, params };
  },
};

// ---- the runner -------------------------------------------------------------------------------------

let tmp = '';
let specs = 0;

/** One measurement in its own process: qkv or onnxruntime (this file with --child) or PyTorch. */
function measure(side: 'qkv' | 'torch' | 'ort', mode: string, spec: Record<string, unknown>, threads = 2, policy: Policy = 'active'): any {
  const file = path.join(tmp, `spec-${specs++}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...spec, threads }));
  const env: NodeJS.ProcessEnv = side === 'torch'
    ? { ...torchEnv, BENCH_THREADS: String(threads), OMP_NUM_THREADS: String(threads), ...(policy === 'passive' ? { OMP_WAIT_POLICY: 'passive' } : {}) }
    : { ...process.env, QKV_THREADS: String(threads) };
  const [cmd, argv] = side === 'torch' ? ['/usr/bin/python3', [path.join(here, 'gpt_torch.py'), mode, file]] : [tsx, [path.join(here, 'gpt.ts'), `--child=${mode}`, file]];
  const out = execFileSync(cmd, argv, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

// PyTorch runs with OpenMP's default (spinning) wait policy and with OMP_WAIT_POLICY=passive, and the
// faster counts: on a shared machine spinning threads can slow it down a hundredfold. At a load average
// of 3 or more (on 2 cores) spinning always lost by 5-40× in this bench, so then only passive runs
// (unless --policies=both).
type Policy = 'active' | 'passive';
function measureTorch(mode: string, spec: Record<string, unknown>, speed: (r: any) => number): any {
  const passive = measure('torch', mode, spec, 2, 'passive');
  if (os.loadavg()[0] >= 3 && args.get('policies') !== 'both') return { ...passive, policy: 'passive', policies: `passive ${fmt(speed(passive), 1)}; active skipped at load ${load()}` };
  const active = measure('torch', mode, spec, 2, 'active');
  const best = speed(passive) > speed(active) ? { ...passive, policy: 'passive' } : { ...active, policy: 'active' };
  return { ...best, policies: `active ${fmt(speed(active), 1)}, passive ${fmt(speed(passive), 1)}` };
}

/** Copy bandwidth in GB/s (bytes read + bytes written, per second) of a 512 MiB Float32Array copy, with `threads` workers on halves. */
async function copyBandwidth(threads: number): Promise<number> {
  const n = 128 << 20;
  const src = new Float32Array(new SharedArrayBuffer(4 * n)).fill(1), dst = new Float32Array(new SharedArrayBuffer(4 * n));
  const code = `const { parentPort, workerData: { src, dst, a, b } } = require('node:worker_threads');
    const s = new Float32Array(src), d = new Float32Array(dst);
    parentPort.on('message', () => { d.set(s.subarray(a, b), a); parentPort.postMessage(0); });`;
  const workers = Array.from({ length: threads }, (_, i) => new Worker(code, { eval: true, workerData: { src: src.buffer, dst: dst.buffer, a: (i * n) / threads, b: ((i + 1) * n) / threads } }));
  const round = () => Promise.all(workers.map((w) => new Promise((r) => { w.once('message', r); w.postMessage(0); })));
  await round();
  const s: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    await round();
    s.push((performance.now() - t0) / 1000);
  }
  for (const w of workers) await w.terminate();
  return (2 * 4 * n) / median(s) / 1e9;
}

const all = (xs: number[], d = 0) => (xs.length > 1 ? ` (${xs.map((x) => fmt(x, d)).join(', ')})` : '');
const cell = (xs: number[], d = 0) => `${fmt(median(xs), d)}${all(xs, d)}`;
const ratioCell = (q: number[], t: number[], d = 2) => `**${(median(q) / median(t)).toFixed(d)}×**`;
const mb = (x: number) => fmt(x);

async function main() {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-bench-gpt-'));
  const cpu = execFileSync('lscpu', { encoding: 'utf8' });
  const model = /Model name:\s*(.*)/.exec(cpu)?.[1] ?? os.cpus()[0].model;
  const flags = /Flags:\s*(.*)/.exec(cpu)?.[1].split(' ') ?? [];
  const simd = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_bf16', 'avx512_vnni', 'amx_tile'].filter((f) => flags.includes(f));
  console.log(`CPU: ${model} (family ${/CPU family:\s*(\d+)/.exec(cpu)?.[1]}, model ${/Model:\s*(\d+)/.exec(cpu)?.[1]}), ${os.cpus().length} cores; SIMD flags: ${simd.join(' ')}`);
  console.log(`qkv: SIMD ${qkv.simd.level()}; ${new Date().toISOString()}; load average ${load()} at the start`);
  const gemm = measure('torch', 'gemmcheck', {});
  console.log(`PyTorch ${gemm.torch}: ${gemm.threads} threads, fp32 matmul 2048² = ${gemm.gflops.toFixed(0)} GFLOP/s (${gemm.perThread.toFixed(0)} per thread)`);
  if (gemm.perThread < 70) console.log('  WARNING: far below ~100 GFLOP/s per thread: a loaded machine, or not OpenBLAS (check LD_LIBRARY_PATH)');
  const rows: string[] = ['| measurement | qkv | peer | qkv / peer | peak RSS MB: qkv / peer |', '|---|---:|---:|---:|---:|'];
  const done = (row: string) => {
    rows.push(row);
    console.log(row);
  };

  if (only.has('shakespeare')) {
    const text = fs.readFileSync(path.join(here, '..', 'data', 'tinyshakespeare.txt'), 'utf8');
    const vocab = qkv.CharVocab.build([text], { specials: {} });
    const cut = Math.floor(text.length * 0.9);
    const files = { chars: path.join(here, '..', 'data', 'tinyshakespeare.txt'), train: path.join(tmp, 'train.i32'), val: path.join(tmp, 'val.i32') };
    fs.writeFileSync(files.train, Int32Array.from(vocab.encode(text.slice(0, cut))));
    fs.writeFileSync(files.val, Int32Array.from(vocab.encode(text.slice(cut))));
    const spec = { ...SHAKESPEARE, ...files, seed: 1, weights: path.join(tmp, 'shakespeare') };
    measure('qkv', 'weights', { shape: { layers: 4, heads: 4, dim: 128, maxLength: 64, vocab: vocab.size }, seed: 1, chars: files.chars, dir: spec.weights });
    const q = measure('qkv', 'shakespeare', spec);
    const probe = measureTorch('shakespeare', { ...spec, steps: 30, warmupSteps: 10 }, (r) => 30 / r.seconds);  // which wait policy, on 30 steps
    console.log(`  PyTorch wait policy for Shakespeare: ${probe.policy} (steps/s over 30 steps: ${probe.policies})`);
    const t = measure('torch', 'shakespeare', spec, 2, probe.policy);
    console.log(`Shakespeare (vocabulary ${vocab.size}, ${SHAKESPEARE.steps} iterations): qkv val ${q.valLoss.toFixed(4)} in ${q.seconds.toFixed(1)} s (train ${q.trainLoss.toFixed(3)}), ` +
      `PyTorch val ${t.valLoss.toFixed(4)} in ${t.seconds.toFixed(1)} s (train ${t.trainLoss.toFixed(3)}); qkv's sample: ${JSON.stringify(q.sample)}`);
    done(`| Shakespeare char, ${SHAKESPEARE.steps} iterations: validation loss (nats/char, whole split) | ${q.valLoss.toFixed(4)} | ${t.valLoss.toFixed(4)} | target qkv ≤ 1.95 | ${mb(q.maxRssMB)} / ${mb(t.maxRssMB)} |`);
    done(`| … wall time of training (s) | ${q.seconds.toFixed(1)} | ${t.seconds.toFixed(1)} | **${(t.seconds / q.seconds).toFixed(2)}×** faster | |`);
  }

  if (only.has('train')) {
    for (const c of TRAIN_SHAPES) {
      const s = c.shape;
      const q1: number[] = [], q2: number[] = [], t: number[] = [];
      let rss = { q: 0, t: 0 };
      for (let r = 0; r < rounds; r++) {
        const spec = { ...c, seed: 0, context: s.maxLength };
        if (r === 0) measure('qkv', 'weights', { shape: s, seed: 0, dir: path.join(tmp, `train-${s.layers}`) });
        const a = measureTorch('train', { ...spec, weights: path.join(tmp, `train-${s.layers}`) }, (x) => x.tokensPerSec);
        const b = measure('qkv', 'train', spec, 2);
        const b1 = measure('qkv', 'train', spec, 1);
        t.push(a.tokensPerSec), q2.push(b.tokensPerSec), q1.push(b1.tokensPerSec);
        rss = { q: b.maxRssMB, t: a.maxRssMB };
        console.log(`  train ${s.layers}/${s.dim}/${s.maxLength}/${s.vocab} batch ${c.batch}, round ${r + 1}: qkv ${fmt(b.tokensPerSec)} (1 thread ${fmt(b1.tokensPerSec)}), PyTorch ${fmt(a.tokensPerSec)} tokens/s (${a.policies}); load ${load()}`);
      }
      const name = `${s.layers} layers / ${s.dim} / context ${s.maxLength} / vocabulary ${fmt(s.vocab)} / batch ${c.batch}`;
      done(`| training tokens/s, ${name}, 2 threads | ${cell(q2)} | ${cell(t)} | ${ratioCell(q2, t)} | ${mb(rss.q)} / ${mb(rss.t)} |`);
      done(`| … qkv at 1 thread | ${cell(q1)} | | ${(median(q1) / median(t)).toFixed(2)}× (vs PyTorch at 2) | |`);
    }
  }

  if (only.has('generate')) {
    const weights = path.join(tmp, 'gen');
    measure('qkv', 'weights', { shape: GEN_SHAPE, seed: 0, dir: weights });
    const reps = quick ? 3 : 5;
    const spec = { shape: GEN_SHAPE, seed: 0, weights, prompt: PROMPT, newTokens: NEW_TOKENS, reps };
    const q: number[] = [], t: number[] = [];
    let rss = { q: 0, t: 0 }, same = true;
    for (let r = 0; r < rounds; r++) {
      const a = measureTorch('generate', spec, (x) => x.tokensPerSec), b = measure('qkv', 'generate', spec);
      t.push(a.tokensPerSec), q.push(b.tokensPerSec);
      rss = { q: b.maxRssMB, t: a.maxRssMB };
      const agree = a.ids.findIndex((id: number, i: number) => id !== b.ids[i]);
      same &&= agree < 0;
      console.log(`  generate, round ${r + 1}: qkv ${fmt(b.tokensPerSec)}, PyTorch ${fmt(a.tokensPerSec)} tokens/s (${a.policies}); greedy ids ${agree < 0 ? 'identical' : `differ from token ${agree}`}; load ${load()}`);
    }
    const shape = `${GEN_SHAPE.layers}/${GEN_SHAPE.dim}/${fmt(GEN_SHAPE.vocab)}`;
    done(`| generation tokens/s (${shape}, batch 1, prompt 32 + 128 new, greedy, KV cache)${same ? '' : ' [greedy ids differ]'} | ${cell(q)} | ${cell(t)} | ${ratioCell(q, t)} | ${mb(rss.q)} / ${mb(rss.t)} |`);

    const fspec = { shape: GEN_SHAPE, seed: 0, weights, ids: FORWARD_IDS, reps: quick ? 5 : 15, logits: path.join(tmp, 'logits.f32'), logitsOut: path.join(tmp, 'logits.f32'), onnxOut: path.join(tmp, 'gpt.onnx') };
    const fq: number[] = [], fo: number[] = [], ft: number[] = [];
    let frss = { q: 0, o: 0, t: 0 }, diffs = { q: 0, o: 0 };
    for (let r = 0; r < rounds; r++) {
      const a = measureTorch('forward', r === 0 ? fspec : { ...fspec, onnxOut: undefined }, (x) => 1000 / x.ms);
      const b = measure('qkv', 'forward', fspec), c = measure('ort', 'ort', { ...fspec, onnx: fspec.onnxOut });
      ft.push(a.ms), fq.push(b.ms), fo.push(c.ms);
      frss = { q: b.maxRssMB, o: c.maxRssMB, t: a.maxRssMB };
      diffs = { q: b.maxAbsDiff, o: c.maxAbsDiff };
      console.log(`  forward T=256, round ${r + 1}: qkv ${b.ms.toFixed(2)} ms, onnxruntime-node ${c.ort} ${c.ms.toFixed(2)} ms, PyTorch ${a.ms.toFixed(2)} ms (calls/s: ${a.policies}); ` +
        `max |logit - PyTorch's|: qkv ${b.maxAbsDiff.toExponential(1)}, onnxruntime ${c.maxAbsDiff.toExponential(1)}; load ${load()}`);
    }
    done(`| forward latency ms, 1 × 256 tokens (${shape}; logits within ${diffs.q.toExponential(0)} / ${diffs.o.toExponential(0)} of PyTorch's) | ${cell(fq, 2)} | onnxruntime-node: ${cell(fo, 2)} | ${ratioCell(fo, fq)} | ${mb(frss.q)} / ${mb(frss.o)} |`);
    done(`| … PyTorch eager | | ${cell(ft, 2)} | ${ratioCell(ft, fq)} | — / ${mb(frss.t)} |`);
  }

  if (only.has('gpt2')) {
    const bw1 = await copyBandwidth(1), bw2 = await copyBandwidth(2);
    const bw = Math.max(bw1, bw2);
    console.log(`copy bandwidth (512 MiB Float32Array, read + written bytes): ${bw1.toFixed(1)} GB/s with 1 thread, ${bw2.toFixed(1)} GB/s with 2`);
    const spec = { shape: GPT2, seed: 0, prompt: PROMPT.map((x) => x % GPT2.vocab), newTokens: quick ? 16 : 64, reps: quick ? 1 : 3 };
    const q: number[] = [], t: number[] = [];
    let rss = { q: 0, t: 0 }, bytes = 0, params = 0;
    for (let r = 0; r < rounds; r++) {
      const a = measureTorch('decode', spec, (x) => x.tokensPerSec), b = measure('qkv', 'decode', spec);
      t.push(a.tokensPerSec), q.push(b.tokensPerSec);
      rss = { q: b.maxRssMB, t: a.maxRssMB };
      bytes = b.weightBytes, params = b.params;
      console.log(`  GPT-2 124M decode, round ${r + 1}: qkv ${b.tokensPerSec.toFixed(1)} tokens/s (prefill of 32: ${b.prefillMs.toFixed(0)} ms), PyTorch ${a.tokensPerSec.toFixed(1)} (prefill ${a.prefillMs.toFixed(0)} ms; ${a.policies}); load ${load()}`);
    }
    const bound = (bw * 1e9) / bytes;
    done(`| GPT-2 124M shape (${fmt(params)} parameters, random): decode tokens/s, prompt 32, greedy | ${cell(q, 1)} | PyTorch ${cell(t, 1)} | ${ratioCell(q, t)} | ${mb(rss.q)} / ${mb(rss.t)} |`);
    done(`| … fraction of the bandwidth bound (${(bytes / 1e6).toFixed(0)} MB of weights per token at ${bw.toFixed(1)} GB/s copy = ${bound.toFixed(1)} tokens/s) | **${(median(q) / bound).toFixed(2)}** | ${(median(t) / bound).toFixed(2)} | target ≥ 0.7 | |`);
  }

  console.log(`\nload average ${load()} at the end; ${rounds} round(s); PyTorch GEMM ${gemm.gflops.toFixed(0)} GFLOP/s at 2048² (2 threads)\n`);
  console.log(rows.join('\n'));
  fs.rmSync(tmp, { recursive: true, force: true });
}

const childMode = args.get('child');
if (childMode) {
  qkv.setThreads(Number(process.env.QKV_THREADS ?? 2));
  const spec = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
  CHILD[childMode](spec).then((r) => console.log(JSON.stringify({ ...r, maxRssMB: maxRssMB() })), (e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    process.exit(1);
  });
}
