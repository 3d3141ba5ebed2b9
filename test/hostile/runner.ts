// Runs cases in child processes, several children at once. A child that dies (signal, abort,
// nonzero exit) or stops answering is replaced, and the rest of its batch goes on in a new one.
// The call that was running when a child died is run again alone: if it crashes alone it is the
// culprit; if not, the calls before it in the batch are bisected to find the shortest run that
// still crashes, so that a crash caused by an earlier call is reported with that call.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HANG_EXIT, type Batch, type Case } from './protocol';
import type { Verdict } from './classify';
import type { Target } from './plan';

export interface Result extends Verdict {
  n: number;
  ms?: number;
  /** For a crash that needs earlier calls: the first of them. */
  after?: number;
}

export interface RunOptions {
  targets: Target[];
  /** Per-call limit of an async call inside the child. */
  timeoutMs: number;
  /** With no line from the child for this long, the running call is a hang (a blocked event loop). */
  silenceMs: number;
  batchSize: number;
  parallel: number;
  /** Bytes of memory per child (ulimit -d), so that a huge allocation fails instead of the machine. */
  memoryBytes: number;
  onBatch?: (done: number, total: number) => void;
}

interface ChildRun {
  results: Result[];
  /** The case that had started and not finished when the child ended, if any. */
  running?: number;
  status: number | null;
  signal: string | null;
  stderr: string;
  silent: boolean;
}

const childScript = path.join(__dirname, 'child.ts');
const root = path.join(__dirname, '../..');

// A child under a data limit (ulimit -d: written memory, not V8's address-space reservations), one
// kernel thread, with gc exposed. Under AddressSanitizer (scripts/sanitize.sh preloads libasan)
// the data limit would refuse ASan its shadow memory: ASan's own per-allocation limit stands in
// (an allocation above it fails as malloc does, and the core reports it).
const underAsan = /libasan/.test(process.env.LD_PRELOAD ?? '');

function spawnChild(mode: 'plan' | 'run', file: string, memoryBytes: number, stdio: 'pipe' | 'inherit') {
  const limit = underAsan ? 'true' : `ulimit -d ${Math.floor(memoryBytes / 1024)}`;
  const asan = underAsan
    ? { ASAN_OPTIONS: [process.env.ASAN_OPTIONS, `max_allocation_size_mb=${Math.floor(memoryBytes / 2 ** 20)}`, 'allocator_may_return_null=1'].filter(Boolean).join(':') }
    : {};
  return spawn('bash', ['-c', `${limit} && exec "$0" --expose-gc --import tsx "$1" "$2" "$3"`, process.execPath, childScript, mode, file], {
    cwd: root,
    stdio: ['ignore', stdio, stdio],
    env: { ...process.env, ...asan, QKV_THREADS: '1', NODE_OPTIONS: '' },
  });
}

function runChild(o: RunOptions, cases: Case[]): Promise<ChildRun> {
  const file = path.join(os.tmpdir(), `qkv-hostile-batch-${process.pid}-${cases[0].n}-${Math.random().toString(36).slice(2)}.json`);
  const batch: Batch = { targets: o.targets.filter((t) => cases.some((c) => c.target === t.id)), cases, timeoutMs: o.timeoutMs };
  fs.writeFileSync(file, JSON.stringify(batch));
  const child = spawnChild('run', file, o.memoryBytes, 'pipe');
  const run: ChildRun = { results: [], status: null, signal: null, stderr: '', silent: false };
  let pending = '';
  let unhandled: string | undefined;
  let timer: NodeJS.Timeout;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      run.silent = true;
      child.kill('SIGKILL');
    }, o.silenceMs);
  };
  arm();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    arm();
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.startsWith('S ')) run.running = Number(line.slice(2));
      else if (line.startsWith('U ')) unhandled = JSON.parse(line.slice(2)) as string;
      else if (line.startsWith('R ')) {
        const r = JSON.parse(line.slice(2)) as Result;
        if (unhandled !== undefined) Object.assign(r, { outcome: 'wrong', why: `unhandled rejection: ${unhandled}` });
        unhandled = undefined;
        run.results.push(r);
        run.running = undefined;
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    run.stderr = (run.stderr + chunk).slice(-4000);
  });
  return new Promise((resolve) => {
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      fs.rmSync(file, { force: true });
      Object.assign(run, { status, signal });
      resolve(run);
    });
  });
}

const died = (r: ChildRun) => !r.silent && (r.signal !== null || (r.status !== 0 && r.status !== HANG_EXIT));
const how = (r: ChildRun) => (r.signal ? `signal ${r.signal}` : `exit ${r.status}`) + (r.stderr ? `: ${r.stderr.trim().split('\n').slice(-12).join(' | ').slice(0, 1600)}` : '');

/** Whether `cases` crash a fresh child on their last call. */
async function crashesOnLast(o: RunOptions, cases: Case[]): Promise<ChildRun | undefined> {
  const r = await runChild(o, cases);
  return died(r) && r.running === cases[cases.length - 1].n ? r : undefined;
}

/** The verdict for the case a child died in, after the earlier `before` of its batch. */
async function crashVerdict(o: RunOptions, before: Case[], k: Case, first: ChildRun): Promise<Result> {
  const alone = await crashesOnLast(o, [k]);
  if (alone) return { n: k.n, outcome: 'crash', why: how(alone) };
  // Shortest tail of `before` that still crashes on k.
  let lo = 0, hi = before.length; // before[hi..] + k does not crash (hi = length: alone); before[lo..] + k did
  let proof = first;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const r = await crashesOnLast(o, [...before.slice(mid), k]);
    if (r) {
      lo = mid;
      proof = r;
    } else hi = mid;
  }
  return { n: k.n, outcome: 'crash', why: `after earlier calls: ${how(proof)}`, after: before[lo]?.n };
}

/** Runs every case and returns one result per case (in case order). */
export async function runCases(o: RunOptions, cases: Case[]): Promise<Result[]> {
  const queue: Case[][] = [];
  for (let i = 0; i < cases.length; i += o.batchSize) queue.push(cases.slice(i, i + o.batchSize));
  const results = new Map<number, Result>();
  let done = 0;
  const worker = async () => {
    for (let batch = queue.shift(); batch; batch = queue.shift()) {
      const r = await runChild(o, batch);
      for (const x of r.results) results.set(x.n, x);
      const at = r.running === undefined ? -1 : batch.findIndex((c) => c.n === r.running);
      if (at >= 0) {
        const k = batch[at];
        if (r.silent) results.set(k.n, { n: k.n, outcome: 'hang', why: `no answer in ${o.silenceMs} ms (event loop blocked)` });
        else if (died(r)) results.set(k.n, await crashVerdict(o, batch.slice(0, at), k, r));
        const rest = batch.slice(at + 1);
        if (rest.length) queue.unshift(rest);
      } else if (died(r)) {
        // Died between calls (at exit, in a finalizer, a callback): charged to the last call that
        // answered; the calls after it go on in a new child.
        const rest = batch.filter((c) => !results.has(c.n));
        const at = rest.length ? batch.indexOf(rest[0]) : batch.length;
        const last = batch[Math.max(at - 1, 0)];
        results.set(last.n, { n: last.n, outcome: 'crash', why: `${at === batch.length ? 'after the batch' : 'after the call'}: ${how(r)}` });
        const again = rest.filter((c) => c !== last);
        if (again.length) queue.unshift(again);
      } else {
        // A hang or slow call ended the batch early: the rest goes on in a new child.
        const rest = batch.filter((c) => !results.has(c.n));
        if (rest.length) queue.unshift(rest);
      }
      done = results.size;
      o.onBatch?.(done, cases.length);
    }
  };
  await Promise.all(Array.from({ length: o.parallel }, worker));
  return cases.map((c) => results.get(c.n) ?? { n: c.n, outcome: 'crash', why: 'no result' });
}

/** Runs the plan child and returns the targets it found. */
export async function plan(memoryBytes: number): Promise<Target[]> {
  const file = path.join(os.tmpdir(), `qkv-hostile-plan-${process.pid}.json`);
  const child = spawnChild('plan', file, memoryBytes, 'inherit');
  const [status, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (s, sig) => resolve([s, sig])));
  if (status !== 0) throw new Error(`hostile sweep: the plan child failed (${signal ?? `exit ${status}`})`);
  const targets = JSON.parse(fs.readFileSync(file, 'utf8')) as Target[];
  fs.rmSync(file, { force: true });
  return targets;
}
