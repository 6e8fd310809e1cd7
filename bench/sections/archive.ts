import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { ArchiveReport } from '../../functions/operations/archive/archive';
import type { RestoreReport } from '../../functions/operations/restore/restore';
import { addDays, dayOf, partitionName } from '../../functions/shared/days';
import { quoteIdent } from '../../functions/shared/db/identifiers';
import { buildHandlers } from '../../infra/bundling';
import { startWriter } from '../../test/support/writer';
import { createDayPartitions, loadDayPartition, SYMBOLS, seedMarkets } from '../support/data';
import { createBenchDatabase } from '../support/database';
import { invokeInFreshProcess } from '../support/handler-process';
import { WRITER_APP } from '../support/lock-watch';
import { endedSessionsCpuSeconds } from '../support/server-cpu';
import { type WriterLatency, wallClock, writerLatency } from './vacuum';

export interface ArchiveBenchResult {
  rows: number;
  /** `COPY (SELECT * FROM <day>) TO STDOUT` of the same day, read to the end, in this process. */
  copyOutSeconds: number;
  /** The restore bundle loading the day back (the day's partition dropped first), in a process of its own. */
  restoreSeconds: number;
  restorePeakRssMiB: number;
  /** `COPY <a bare table like trades> FROM STDIN` of the same rows (the COPY TO output), in this process. */
  copyInSeconds: number;
  /** The handler invocation in its own process (import of the bundle not included). */
  seconds: number;
  rowsPerSecond: number;
  parquetBytes: number;
  /** pg_total_relation_size of the partition: heap, TOAST and indexes. */
  postgresBytes: number;
  /** pg_relation_size of the heap alone. */
  heapBytes: number;
  /** Peak RSS of the archiving process, MiB (the function is to get 1024 MB). */
  peakRssMiB: number;
  /** CPU seconds of the archiving process, and of the restoring one (the server's are not in them). */
  cpuSeconds: number;
  restoreCpuSeconds: number;
  /** Server CPU seconds of the restore's sessions, and of the COPY FROM's (NaN: the server is not local). */
  restoreServerCpuSeconds: number;
  copyInServerCpuSeconds: number;
  /** The 1-minute load average when the section started and when it ended (the machine is shared). */
  loadAverage: [number, number];
  atRest: WriterLatency;
  during: WriterLatency;
}

/**
 * Archives one closed day of `rows` trades (three days ago) to a directory through the archive
 * bundle, in a node process of its own (its peak RSS is the function's), while a writer thread
 * inserts 50-row batches into today; compares the writer's latencies during the run with the
 * same writer at rest, and the Parquet file's size with the partition's in PostgreSQL.
 */
export async function archiveBench(adminUrl: string, rows: number, log: (line: string) => void): Promise<ArchiveBenchResult> {
  await buildHandlers();
  const loadAtStart = loadavg()[0] ?? 0;
  const db = await createBenchDatabase(adminUrl, 'bench_archive');
  const directory = mkdtempSync(join(tmpdir(), 'bench-archive-'));
  try {
    await seedMarkets(db.url);
    const today = dayOf(new Date());
    const day = addDays(today, -3);
    await loadDayPartition(db.url, 'trades', day, rows, SYMBOLS);
    await createDayPartitions(db.url, ['trades'], [today]);
    const relation = partitionName('trades', day);
    const sizes = await db.query(
      'SELECT pg_total_relation_size($1::regclass)::float8 AS total, pg_relation_size($1::regclass)::float8 AS heap',
      [relation],
    );
    const writer = startWriter(db.url, { batch: 50, symbols: [['BTC-PERP', '0']], applicationName: WRITER_APP });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const restStart = wallClock();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const restEnd = wallClock();
    const copied = join(directory, 'copy.txt');
    const copyOutSeconds = await copyOut(db.url, relation, copied);
    const runStart = wallClock();
    const run = await invokeInFreshProcess<ArchiveReport>('archive', { archiveAfterDays: 2, table: 'trades' }, db.url, {
      env: { ARCHIVE_DIR: directory },
    });
    const runEnd = wallClock();
    const written = await writer.stop();
    if (run.error) throw new Error(`archive failed: ${run.error.name}: ${run.error.message}`);
    const archived = run.result?.partitions.find((p) => p.partition === relation);
    if (archived?.status !== 'archived' || archived.rows !== rows) {
      throw new Error(`archive did not archive ${relation} with ${rows} rows: ${JSON.stringify(archived)}`);
    }
    const latency = (from: number, to: number) => writerLatency(written, from, to);
    const result: ArchiveBenchResult = {
      rows,
      seconds: run.ms / 1000,
      rowsPerSecond: rows / (run.ms / 1000),
      parquetBytes: archived.bytes ?? 0,
      postgresBytes: Number(sizes.rows[0]?.total),
      heapBytes: Number(sizes.rows[0]?.heap),
      peakRssMiB: run.peakRssMiB,
      cpuSeconds: run.cpuSeconds ?? Number.NaN,
      loadAverage: [loadAtStart, loadAtStart],
      atRest: latency(restStart, restEnd),
      during: latency(runStart, runEnd),
      copyOutSeconds,
      ...(await restoreAgainstCopy(db.url, relation, day, directory, copied)),
    };
    result.loadAverage[1] = loadavg()[0] ?? 0;
    log(
      `archive: ${rows.toExponential(0)} rows in ${result.seconds.toFixed(1)} s (${(result.seconds / copyOutSeconds).toFixed(2)}x COPY TO), peak RSS ${Math.round(result.peakRssMiB)} MiB; restore ${result.restoreSeconds.toFixed(1)} s (${(result.restoreSeconds / result.copyInSeconds).toFixed(2)}x COPY FROM), peak RSS ${Math.round(result.restorePeakRssMiB)} MiB; load ${result.loadAverage.map((l) => l.toFixed(1)).join(' -> ')}`,
    );
    return result;
  } finally {
    rmSync(directory, { recursive: true, force: true });
    await db.drop();
  }
}

/** Times `COPY (SELECT * FROM relation) TO STDOUT` read to the end, keeping the text in `file` for copyIn. */
async function copyOut(url: string, relation: string, file: string): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const started = performance.now();
    await pipeline(client.query(copyTo(`COPY (SELECT * FROM ${quoteIdent(relation)}) TO STDOUT`)), createWriteStream(file));
    return (performance.now() - started) / 1000;
  } finally {
    await client.end();
  }
}

/**
 * Drops the archived day's partition and restores it through the restore bundle in a process of
 * its own; then times COPY FROM STDIN of the same rows into a bare table shaped like trades (no
 * index, no key): the floor any load of these rows has.
 */
async function restoreAgainstCopy(
  url: string,
  relation: string,
  day: string,
  directory: string,
  copied: string,
): Promise<
  Pick<
    ArchiveBenchResult,
    'restoreSeconds' | 'restorePeakRssMiB' | 'restoreCpuSeconds' | 'restoreServerCpuSeconds' | 'copyInSeconds' | 'copyInServerCpuSeconds'
  >
> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    await client.query(`DROP TABLE ${quoteIdent(relation)}`);
    const serverBefore = await endedSessionsCpuSeconds(url);
    const run = await invokeInFreshProcess<RestoreReport>('restore', { table: 'trades', day }, url, { env: { ARCHIVE_DIR: directory } });
    if (run.error || run.result?.status !== 'restored') throw new Error(`restore failed: ${JSON.stringify(run.error ?? run.result)}`);
    const restoreServerCpuSeconds = await serverCpuSince(url, serverBefore);
    await client.query('CREATE TABLE bench_copy_in (LIKE trades)');
    // On a session of its own, ended after the COPY: its CPU then counts in endedSessionsCpuSeconds.
    const copyIn = new pg.Client(url);
    await copyIn.connect();
    const copyInBefore = await endedSessionsCpuSeconds(url);
    const started = performance.now();
    await pipeline(createReadStream(copied), copyIn.query(copyFrom('COPY bench_copy_in FROM STDIN')));
    const copyInSeconds = (performance.now() - started) / 1000;
    await copyIn.end();
    const copyInServerCpuSeconds = await serverCpuSince(url, copyInBefore);
    await client.query('DROP TABLE bench_copy_in');
    return {
      restoreSeconds: run.ms / 1000,
      restorePeakRssMiB: run.peakRssMiB,
      restoreCpuSeconds: run.cpuSeconds ?? Number.NaN,
      restoreServerCpuSeconds,
      copyInSeconds,
      copyInServerCpuSeconds,
    };
  } finally {
    await client.end();
  }
}

/** Server CPU seconds of the sessions that ended since `before` (endedSessionsCpuSeconds), once the postmaster has reaped them. */
async function serverCpuSince(url: string, before: number | null): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const now = await endedSessionsCpuSeconds(url);
  return now === null || before === null ? Number.NaN : now - before;
}
