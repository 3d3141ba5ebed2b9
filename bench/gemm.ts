// GEMM: qkv's matmul against numpy's OpenBLAS, in the same run, size by size.
//
//   npm run bench:gemm                                  sizes 256..4096, variants NN NT TN, 2 threads
//   npm run bench:gemm -- --sizes 512,1024 --threads 2 --variants NN --seconds 1.5
//
// For each (size, variant) the two libraries take turns -- a batch of about 0.2 s of qkv products, then
// one of numpy's (a long-lived python3 helper, bench/gemm_numpy.py, fed JSON lines) -- until each has
// had --seconds (and at least 5 products), so that both see the same machine, load spikes included.
// After each numpy batch the bench pauses 0.25 s before timing qkv: OpenBLAS's threads keep spinning
// for ~0.1 s after a call (its THREAD_TIMEOUT), which would otherwise take the cores from qkv's first
// products. (qkv's pool threads sleep as soon as a call ends, so numpy needs no such pause.) numpy runs with
// OPENBLAS_NUM_THREADS=<threads> and without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (which would pin a
// slower kernel or cache size: the peer runs at its best).
// Variants: NN = a @ b, NT = a @ b^T, TN = a^T @ b; transposes are views in both libraries (no copy).
// Reported: GFLOP/s (2 n^3 / time) of the median run and of the fastest run (the fastest is the
// steadier figure on a shared, busy machine).
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as qkv from '../src/index';

interface Options {
  sizes: number[];
  variants: string[];
  threads: number;
  seconds: number;
  python: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { sizes: [256, 512, 1024, 2048, 4096], variants: ['NN', 'NT', 'TN'], threads: 2, seconds: 1.5, python: 'python3' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === '--sizes') o.sizes = v.split(',').map(Number);
    else if (a === '--variants') o.variants = v.split(',');
    else if (a === '--threads') o.threads = Number(v);
    else if (a === '--seconds') o.seconds = Number(v);
    else if (a === '--python') o.python = v;
    else throw new Error(`unknown option ${a} (--sizes, --variants, --threads, --seconds, --python)`);
    i++;
  }
  return o;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

class NumpyPeer {
  private lines: AsyncIterator<string>;
  private proc;

  constructor(python: string, threads: number) {
    const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(threads) };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    this.proc = spawn(python, [path.join(__dirname, 'gemm_numpy.py')], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }

  async next(): Promise<any> {
    const r = await this.lines.next();
    if (r.done) throw new Error('gemm_numpy.py exited early (is numpy installed for python3?)');
    return JSON.parse(r.value);
  }

  async time(n: number, variant: string, count: number): Promise<number[]> {
    this.proc.stdin.write(JSON.stringify({ n, variant, count }) + '\n');
    return (await this.next()).times;
  }

  close(): void {
    this.proc.stdin.write(JSON.stringify({ quit: true }) + '\n');
    this.proc.stdin.end();
  }
}

// Times of `count` products, each of a fresh output (disposed at once).
function timeQkv(a: qkv.Tensor, b: qkv.Tensor, variant: string, count: number): number[] {
  const x = variant[0] === 'T' ? a.transpose(0, 1) : a;
  const y = variant[1] === 'T' ? b.transpose(0, 1) : b;
  const times: number[] = [];
  for (let r = 0; r < count; r++) {
    const t0 = performance.now();
    const c = qkv.matmul(x, y);
    times.push((performance.now() - t0) / 1e3);
    c.dispose();
  }
  return times;
}

async function timeBoth(peer: NumpyPeer, a: qkv.Tensor, b: qkv.Tensor, n: number, v: string, seconds: number) {
  const q = timeQkv(a, b, v, 2); // warm-up, and a first estimate
  const p = await peer.time(n, v, 1);
  await pause(250);
  const batch = Math.max(1, Math.round(0.2 / Math.max(q[1], 1e-6)));
  const tq: number[] = [q[1]];
  const tn: number[] = [...p];
  const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);
  while ((sum(tq) < seconds || tq.length < 5 || sum(tn) < seconds || tn.length < 5) && tq.length < 200) {
    tq.push(...timeQkv(a, b, v, batch));
    tn.push(...(await peer.time(n, v, batch)));
    await pause(250);
  }
  return { tq, tn };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  qkv.setThreads(o.threads);
  const peer = new NumpyPeer(o.python, o.threads);
  const hello = await peer.next();
  const ob = hello.blas.openblas;
  console.log(`qkv: SIMD ${qkv.simd.level()}, ${qkv.threads()} threads`);
  console.log(
    `numpy ${hello.numpy}: ` +
      (ob ? `OpenBLAS core ${ob.core}, ${ob.threads} threads (${ob.config.trim()})` : 'OpenBLAS not identified') +
      (hello.blas.threadpoolctl ? `; threadpoolctl: ${JSON.stringify(hello.blas.threadpoolctl)}` : '; threadpoolctl not installed'),
  );
  console.log(`env for numpy: ${JSON.stringify(hello.env)}; load average before: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
  console.log('| size | variant | qkv GFLOP/s median (best) | numpy GFLOP/s median (best) | qkv / numpy median (best) |');
  console.log('|---:|:---:|---:|---:|---:|');
  for (const n of o.sizes) {
    const a = qkv.randn([n, n], { seed: 1 });
    const b = qkv.randn([n, n], { seed: 2 });
    const flops = 2 * n * n * n;
    for (const v of o.variants) {
      const { tq, tn } = await timeBoth(peer, a, b, n, v, o.seconds);
      const gq = flops / median(tq) / 1e9, bq = flops / Math.min(...tq) / 1e9;
      const gn = flops / median(tn) / 1e9, bn = flops / Math.min(...tn) / 1e9;
      console.log(
        `| ${n} | ${v} | ${gq.toFixed(1)} (${bq.toFixed(1)}) | ${gn.toFixed(1)} (${bn.toFixed(1)}) | ` +
          `${(gq / gn).toFixed(2)} (${(bq / bn).toFixed(2)}) |`,
      );
    }
    a.dispose();
    b.dispose();
  }
  peer.close();
  console.log(`\nload average after: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
