// npm run test:hostile: calls every export of qkv with hostile arguments in child processes and
// reports what each call did (see README "Errors"). Exits 1 on any crash or hang.
//   --report FILE   where the JSON report goes (default hostile-report.json)
//   --only TEXT     only the targets whose id contains TEXT
//   --parallel N    children at once (default: the number of cores)
//   --values A,B    only these hostile values (by name; 'none' for only the valid and busy calls)
import * as fs from 'node:fs';
import * as os from 'node:os';
import { casesOf } from './cases';
import { HOSTILE } from './values';
import { failed, makeReport, printReport } from './report';
import { plan, runCases } from './runner';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

async function main() {
  const t0 = Date.now();
  const memoryBytes = 4 * 2 ** 30;
  const only = flag('only');
  const targets = (await plan(memoryBytes)).filter((t) => only === undefined || t.id.includes(only));
  const names = flag('values')?.split(',');
  const values = names && HOSTILE.filter((h) => names.includes(h.name));
  const cases = casesOf(targets, { values, keyValues: values });
  console.log(`hostile sweep: ${targets.length} calls found, ${cases.length} cases`);
  let last = 0;
  const results = await runCases({
    targets,
    timeoutMs: 5000,
    silenceMs: 30_000,
    batchSize: 400,
    parallel: Number(flag('parallel') ?? os.availableParallelism()),
    memoryBytes,
    onBatch: (done, total) => {
      if (done - last >= 2000 || done === total) console.log(`  ${done}/${total} (${((Date.now() - t0) / 1000).toFixed(0)} s)`), (last = done);
    },
  }, cases);
  const report = makeReport(targets, cases, results, (Date.now() - t0) / 1000);
  printReport(report);
  const file = flag('report') ?? 'hostile-report.json';
  fs.writeFileSync(file, JSON.stringify(report, null, 2));
  console.log(`report: ${file}`);
  process.exit(failed(report) ? 1 : 0);
}

void main();
