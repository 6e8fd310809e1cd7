import { vacuum } from '../../functions/operations/vacuum/vacuum';
import { addDays, dayOf, dayStart, partitionName } from '../../functions/shared/days';
import { startWriter, type WriterResult } from '../../test/support/writer';
import { copyRows, createDayPartitions, seedMarkets } from '../support/data';
import { createBenchDatabase } from '../support/database';
import { WRITER_APP } from '../support/lock-watch';
import { largest, percentile } from '../support/timing';

/** Insert latencies of a writer thread over one stretch of time. */
export interface WriterLatency {
  inserts: number;
  failed: number;
  p99: number;
  max: number;
}

export interface VacuumResult {
  rows: number;
  /** The seal step of the loaded partition, as the report gives it. */
  sealMs: number;
  /** The whole run: that seal, the other closed partitions and the analyzes. */
  runMs: number;
  steps: number;
  atRest: WriterLatency;
  during: WriterLatency;
}

/** Wall-clock milliseconds, comparable with the writer's sample times. */
export const wallClock = () => performance.timeOrigin + performance.now();

/** The writer's inserts that started between `from` and `to` (wall clock), and its failures. */
export function writerLatency(written: WriterResult, from: number, to: number): WriterLatency {
  const inWindow = written.samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.ms);
  return { inserts: inWindow.length, failed: written.failed, p99: percentile(inWindow, 99), max: largest(inWindow) };
}

/**
 * Seals one closed day of `rows` trades (yesterday) with `vacuum` while a writer thread inserts
 * 50-row batches into that same day and into today, and compares the writer's latencies during
 * the run with the same writer at rest. One run: the seal is a one-off per partition.
 */
export async function vacuumBench(adminUrl: string, rows: number, log: (line: string) => void): Promise<VacuumResult> {
  const db = await createBenchDatabase(adminUrl, 'bench_vacuum');
  try {
    await seedMarkets(db.url);
    const yesterday = addDays(dayOf(new Date()), -1);
    await createDayPartitions(db.url, ['trades'], [yesterday, addDays(yesterday, 1)]);
    await copyRows(db.url, 'trades', rows, dayStart(yesterday), new Date(dayStart(yesterday).getTime() + 86_399_000));
    const writer = startWriter(db.url, {
      batch: 50,
      symbols: [
        ['BTC-PERP', '0'],
        ['BTC-PERP', '-1 day'],
      ],
      applicationName: WRITER_APP,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const restStart = wallClock();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const restEnd = wallClock();
    const report = await vacuum(db.ctx, {});
    const runEnd = wallClock();
    const written = await writer.stop();
    const latency = (from: number, to: number) => writerLatency(written, from, to);
    const seal = report.steps.find((step) => step.relation === partitionName('trades', yesterday));
    const result = {
      rows,
      sealMs: seal?.duration_ms ?? Number.NaN,
      runMs: runEnd - restEnd,
      steps: report.steps.length,
      atRest: latency(restStart, restEnd),
      during: latency(restEnd, runEnd),
    };
    log(`vacuum: sealed ${rows.toExponential(0)} rows in ${result.sealMs} ms; writer p99 ${result.during.p99.toFixed(1)} ms during`);
    return result;
  } finally {
    await db.drop();
  }
}
