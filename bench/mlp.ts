// MLP training throughput: qkv's native fit() against PyTorch 1.13 on the same model, batch, data
// and optimizer (AdamW, lr 1e-3, cross-entropy), 2 threads each, in the same run.
//
//   npm run bench:mlp                      (QKV_THREADS=2; PyTorch through bench/mlp_torch.py)
//   npm run bench:mlp -- --epochs 3 --repeats 3 --python /usr/bin/python3
//
// The data (N samples of 784 standard-normal features, 10 random classes) is written once to temp
// files that both sides read. Each side trains a warm-up epoch, then `repeats` timed runs of
// `epochs` epochs (shuffled batches, forward, loss, backward, optimizer step); reported: median
// samples/s. Configurations alternate between the libraries, so that both see the same machine.
// PyTorch runs at its best: OpenBLAS with OpenMP through LD_LIBRARY_PATH,
// torch.set_num_threads(2), its fp32 GEMM rate at 2048² printed first; and twice, with OpenMP's
// default (spinning) wait policy and with OMP_WAIT_POLICY=passive, keeping the faster: on a shared,
// oversubscribed machine spinning threads can slow small steps down several times.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as qkv from '../src/index';

interface Config {
  name: string;
  in: number;
  hidden: number[];
  out: number;
  activation: 'relu' | 'gelu';
  layerNorm: boolean;
  batch: number;
}

const CONFIGS: Config[] = [
  { name: '784-512-512-10 ReLU, batch 128', in: 784, hidden: [512, 512], out: 10, activation: 'relu', layerNorm: false, batch: 128 },
  { name: '784-512-512-10 LayerNorm+GELU, batch 128', in: 784, hidden: [512, 512], out: 10, activation: 'gelu', layerNorm: true, batch: 128 },
  { name: '784-256-10 ReLU, batch 32', in: 784, hidden: [256], out: 10, activation: 'relu', layerNorm: false, batch: 32 },
];

function parseArgs(argv: string[]) {
  const o = { epochs: 2, repeats: 3, n: 8192, threads: Number(process.env.QKV_THREADS ?? 2), python: '/usr/bin/python3' };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--epochs') o.epochs = Number(v);
    else if (k === '--repeats') o.repeats = Number(v);
    else if (k === '--n') o.n = Number(v);
    else if (k === '--threads') o.threads = Number(v);
    else if (k === '--python') o.python = v;
    else throw new Error(`unknown option ${k} (--epochs, --repeats, --n, --threads, --python)`);
  }
  return o;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (v: number) => Math.round(v).toLocaleString('en-US');

/** A long-lived bench/mlp_torch.py fed one configuration per line. */
class TorchPeer {
  private proc;
  private lines: AsyncIterator<string>;
  constructor(python: string, dir: string, threads: number, readonly policy: 'active' | 'passive') {
    const env: NodeJS.ProcessEnv = { ...process.env, LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp', OMP_NUM_THREADS: String(threads) };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    if (policy === 'passive') env.OMP_WAIT_POLICY = 'passive';
    else delete env.OMP_WAIT_POLICY;
    this.proc = spawn(python, [path.join(__dirname, 'mlp_torch.py'), path.join(dir, 'spec.json')], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<any> {
    const r = await this.lines.next();
    if (r.done) throw new Error('mlp_torch.py exited early (is python3-torch installed?)');
    return JSON.parse(r.value);
  }
  async run(c: Config): Promise<number[]> {
    this.proc.stdin.write(JSON.stringify(c) + '\n');
    return (await this.next()).rates;
  }
  async close(): Promise<void> {
    this.proc.stdin.end(JSON.stringify({ quit: true }) + '\n');
    await new Promise((r) => this.proc.on('close', r));
  }
}

async function timeQkv(c: Config, data: qkv.nn.Dataset, epochs: number, repeats: number): Promise<number[]> {
  const model = new qkv.nn.MLP(c.in, c.hidden, c.out, { activation: c.activation, layerNorm: c.layerNorm, seed: 0 });
  const optimizer = new qkv.optim.AdamW(model, { lr: 1e-3, weightDecay: 0.01 });
  await model.fit(data, { epochs: 1, batchSize: c.batch, optimizer, seed: 0 });  // warm-up
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const res = await model.fit(data, { epochs, batchSize: c.batch, optimizer, seed: r + 1 });
    rates.push(res.samples / res.seconds);
  }
  await model.dispose();
  return rates;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  qkv.setThreads(o.threads);
  const dir = mkdtempSync(path.join(tmpdir(), 'qkv-bench-mlp-'));
  const x = qkv.randn([o.n, 784], { seed: 1 });
  const y = qkv.Tensor.from(Int32Array.from({ length: o.n }, (_, i) => (i * 7919) % 10));
  writeFileSync(path.join(dir, 'x.f32'), x.toFloat32Array());
  writeFileSync(path.join(dir, 'y.i32'), y.toTypedArray() as Int32Array);
  const spec = { n: o.n, in: 784, inputs: path.join(dir, 'x.f32'), targets: path.join(dir, 'y.i32'), threads: o.threads, epochs: o.epochs, repeats: o.repeats };
  writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));

  console.log(`qkv: SIMD ${qkv.simd.level()}, ${qkv.threads()} threads; ${o.n} samples, ${o.epochs} epochs x ${o.repeats} runs after a warm-up epoch`);

  const peers: TorchPeer[] = [];
  for (const policy of ['active', 'passive'] as const) {
    const p = new TorchPeer(o.python, dir, o.threads, policy);  // one at a time: each times a GEMM first
    peers.push(p);
    const hello = await p.next();
    console.log(`PyTorch ${hello.torch} (OMP_WAIT_POLICY=${p.policy}), ${hello.threads} threads; fp32 GEMM 2048²: ${hello.gemm2048.gflops.toFixed(0)} GFLOP/s (${hello.gemm2048.per_thread.toFixed(0)} per thread)`);
    if (hello.gemm2048.per_thread < 70) console.log('  WARNING: far below ~100 GFLOP/s per thread: a loaded machine, or check LD_LIBRARY_PATH / OpenBLAS');
  }
  const rows: string[] = [];
  for (const c of CONFIGS) {
    const q = median(await timeQkv(c, { inputs: x, targets: y }, o.epochs, o.repeats));
    const t: { policy: string; rate: number }[] = [];
    for (const p of peers) t.push({ policy: p.policy, rate: median(await p.run(c)) });  // one at a time
    const best = t[0].rate >= t[1].rate ? t[0] : t[1];
    const row = `| ${c.name} | ${fmt(q)} | ${fmt(best.rate)} (${best.policy}; ${t.map((r) => `${r.policy} ${fmt(r.rate)}`).join(', ')}) | ${(q / best.rate).toFixed(2)}× |`;
    console.log(row);
    rows.push(row);
  }
  for (const p of peers) await p.close();
  console.log('\n| model, batch | qkv samples/s | PyTorch samples/s (best wait policy) | qkv / PyTorch |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(r);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
