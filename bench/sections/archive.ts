import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArchiveReport } from '../../functions/core/archive';
import { addDays, dayOf, partitionName } from '../../functions/core/days';
import { buildHandlers } from '../../infra/bundling';
import { startWriter } from '../../test/support/writer';
import { createDayPartitions, loadDayPartition, SYMBOLS, seedMarkets } from '../support/data';
import { createBenchDatabase } from '../support/database';
import { invokeInFreshProcess } from '../support/handler-process';
import { WRITER_APP } from '../support/lock-watch';
import { type WriterLatency, wallClock, writerLatency } from './vacuum';

export interface ArchiveBenchResult {
  rows: number;
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
      atRest: latency(restStart, restEnd),
      during: latency(restEnd, runEnd),
    };
    log(
      `archive: ${rows.toExponential(0)} rows in ${result.seconds.toFixed(1)} s (${Math.round(result.rowsPerSecond)} rows/s), peak RSS ${Math.round(result.peakRssMiB)} MiB`,
    );
    return result;
  } finally {
    rmSync(directory, { recursive: true, force: true });
    await db.drop();
  }
}
