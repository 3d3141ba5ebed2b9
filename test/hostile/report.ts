// The sweep's summary: counts per outcome and per export, the crashes, hangs and wrong-class
// errors listed one by one, and the JSON report.
import { describeCase } from './cases';
import type { Outcome } from './classify';
import type { Target } from './plan';
import type { Case } from './protocol';
import type { Result } from './runner';

const OUTCOMES: readonly Outcome[] = ['ok', 'slow', 'clean', 'wrong', 'crash', 'hang'];
const BAD: readonly Outcome[] = ['wrong', 'crash', 'hang'];

export type Counts = Record<Outcome, number>;

const zero = (): Counts => Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Counts;

export interface Report {
  cases: number;
  seconds: number;
  totals: Counts;
  /** Per export (the path before '#' or the method's class). */
  perExport: Record<string, Counts>;
  /** Exports swept without a valid baseline call (only one position is reached deeply). */
  shallow: string[];
  findings: { case: string; outcome: Outcome; why?: string; error?: Result['error']; after?: string }[];
}

export function makeReport(targets: readonly Target[], cases: readonly Case[], results: readonly Result[], seconds: number): Report {
  const totals = zero();
  const perExport: Record<string, Counts> = {};
  const byTarget = new Map(targets.map((t) => [t.id, t]));
  const findings: Report['findings'] = [];
  results.forEach((r, i) => {
    const c = cases[i];
    const exp = byTarget.get(c.target)!.path;
    totals[r.outcome]++;
    (perExport[exp] ??= zero())[r.outcome]++;
    if (BAD.includes(r.outcome))
      findings.push({ case: describeCase(c), outcome: r.outcome, why: r.why, error: r.error, after: r.after === undefined ? undefined : describeCase(cases[r.after]) });
  });
  const shallow = targets.filter((t) => !t.baseline && t.slots.length > 1).map((t) => t.id);
  return { cases: cases.length, seconds, totals, perExport, shallow, findings };
}

const row = (name: string, c: Counts, w: number) => `${name.padEnd(w)} ${OUTCOMES.map((o) => String(c[o]).padStart(6)).join(' ')}`;

export function printReport(r: Report, out: (line: string) => void = console.log): void {
  const names = Object.keys(r.perExport).sort();
  const w = Math.max(12, ...names.map((n) => n.length));
  out(`${''.padEnd(w)} ${OUTCOMES.map((o) => o.padStart(6)).join(' ')}`);
  for (const n of names) out(row(n, r.perExport[n], w));
  out(row('total', r.totals, w));
  for (const f of r.findings.slice(0, 200)) {
    const e = f.error ? ` — ${f.error.name}${f.error.code ? ` ${f.error.code}` : ''}: ${f.error.message}` : '';
    out(`${f.outcome.toUpperCase()} ${f.case}${f.after ? ` (after ${f.after})` : ''}: ${f.why ?? ''}${e}`);
  }
  if (r.findings.length > 200) out(`... and ${r.findings.length - 200} more in the JSON report`);
  if (r.shallow.length) out(`shallow (no baseline call in test/hostile/fixtures.ts): ${r.shallow.join(', ')}`);
  out(`${r.cases} calls in ${r.seconds.toFixed(0)} s: ${OUTCOMES.map((o) => `${r.totals[o]} ${o}`).join(', ')}`);
}

export const failed = (r: Report) => r.totals.crash + r.totals.hang > 0;
