// One child process of the sweep. `child.ts plan <out.json>` writes the plan; `child.ts run
// <batch.json>` runs a batch of cases in order and reports each on stdout, synchronously, as
// "S <n>" before the call and "R <json>" after it, so that the parent knows which call was running
// when the process died or stopped answering. A call that does not settle in time ends the batch
// (exit 75): its work may still be running, and the next calls should not share the process.
import * as fs from 'node:fs';
import * as qkv from '../../src/index';
import { classifyError, type Verdict } from './classify';
import { BASELINE, INSTANCE, LONG_JOB, makeCtx, type Ctx } from './fixtures';
import { invoke, makePlan, type Target } from './plan';
import { HANG_EXIT, type Batch, type Case } from './protocol';
import { settle, Timeout } from './settle';
import { hostileByName } from './values';

const REUSE = 20;
const BUSY_MS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Synchronous, so that a line is out before a crash; stdout is a non-blocking pipe, which answers
// EAGAIN while the parent has not read it yet: write the rest until it is all out.
function say(line: string): void {
  const bytes = Buffer.from(line);
  for (let off = 0; off < bytes.length;) {
    try {
      off += fs.writeSync(1, bytes, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

// Receivers are reused for a few calls (fresh ones cost a model build each), never once disposed.
const receivers = new Map<string, { inst: unknown; uses: number }>();

async function receiver(c: Ctx, t: Target, variant: string): Promise<unknown> {
  const fixture = t.instance!;
  if (variant === 'busy' || variant === 'disposed') {
    const inst = await INSTANCE[fixture](c);
    if (variant === 'busy') LONG_JOB[fixture](inst, c);
    else await (inst as { dispose(): unknown }).dispose();
    return inst;
  }
  let r = receivers.get(fixture);
  if (!r || r.uses >= REUSE || (r.inst as { disposed?: boolean }).disposed === true) {
    r = { inst: await INSTANCE[fixture](c), uses: 0 };
    receivers.set(fixture, r);
  }
  r.uses++;
  return r.inst;
}

async function runCase(c: Ctx, t: Target, cs: Case, timeoutMs: number): Promise<Verdict> {
  let inst: unknown;
  try {
    if (t.kind === 'method' || t.kind === 'get' || t.kind === 'set') {
      if (!t.instance) return { outcome: 'ok', why: 'no instance to call it on' };
      inst = await receiver(c, t, cs.value);
    }
    const args = BASELINE[t.id]?.(c) ?? [];
    const h = hostileByName.get(cs.value);
    if (h) {
      const v = await h.make(c);
      args[cs.pos] = cs.key === undefined ? v : { ...(isPlain(args[cs.pos]) ? args[cs.pos] as object : {}), [cs.key]: v };
    }
    const cpu = process.cpuUsage();
    try {
      const r = invoke(qkv, t, args, inst);
      // A call on a busy model may wait in its queue for the job: it must settle once the job stops.
      if (cs.value === 'busy') await Promise.race([settle(r, timeoutMs).catch(() => undefined), sleep(BUSY_MS)]).then(() => c.stopJobs());
      await settle(r, timeoutMs);
      return { outcome: 'ok' };
    } catch (e) {
      if (!(e instanceof Timeout)) throw e;
      // Still working (a valid but long job, e.g. epochs: 2**31) is slow; idle and unsettled is a hang.
      const used = process.cpuUsage(cpu);
      const busy = (used.user + used.system) / 1000 > timeoutMs * 0.2;
      return busy ? { outcome: 'slow', why: e.message } : { outcome: 'hang', why: `${e.message}, idle` };
    }
  } catch (e) {
    return classifyError(e, t.id, qkv.QkvError, (inst as object | undefined)?.constructor?.name);
  } finally {
    if (cs.value === 'busy') await c.stopJobs();
  }
}

async function main() {
  const [mode, file] = process.argv.slice(2);
  // A rejection nobody handles is qkv's (every Promise the sweep gets is awaited): the parent
  // charges it to the call that was running.
  process.on('unhandledRejection', (e) => say(`U ${JSON.stringify(String((e as Error)?.message ?? e).slice(0, 300))}\n`));
  const c = await makeCtx(qkv);
  // Hostile strings are also relative paths ('hostile' saved to, say): they land in the sweep's
  // temporary folder, not in the checkout.
  process.chdir(c.dir);
  if (mode === 'plan') {
    fs.writeFileSync(file, JSON.stringify(await makePlan(c)));
    process.exit(0);
  }
  const batch = JSON.parse(fs.readFileSync(file, 'utf8')) as Batch;
  const targets = new Map(batch.targets.map((t) => [t.id, t]));
  for (const cs of batch.cases) {
    say(`S ${cs.n}\n`);
    const t0 = performance.now();
    const v = await runCase(c, targets.get(cs.target)!, cs, batch.timeoutMs);
    say(`R ${JSON.stringify({ n: cs.n, ms: Math.round(performance.now() - t0), ...v })}\n`);
    if (v.outcome === 'hang' || v.outcome === 'slow') process.exit(HANG_EXIT);
  }
  await c.stopJobs();
  globalThis.gc?.();
  process.exit(0);
}

void main();
