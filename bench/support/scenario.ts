import { loadavg } from 'node:os';
import pg from 'pg';
import { type BenchDatabase, MAINTENANCE_APP } from './database';
import type { ProcessRun } from './handler-process';
import { duringIngestion, type IngestionResult } from './ingestion';
import { SLOW_INSERT_MS, watchLongestTransaction } from './lock-watch';

/** One measured operation of the scale runs, with the writer running. */
export interface MeasuredOperation {
  name: string;
  /** The invocation, in its own process. */
  ms: number;
  /** Longest transaction of the maintenance session: the longest lock hold, to 5 ms. */
  longestTransactionMs: number;
  /** Longest of its transactions that held a lock holding inserts back (parent, partitions, referenced tables). */
  longestBlockingMs: number;
  peakRssMiB: number | null;
  detail: string;
  ingestion: IngestionResult;
  /** What the writer waited on in its slow inserts, as sampled (see LongestTransactions.slowInsertWaits). */
  slowInsertWaits: Record<string, number>;
  /** 1-minute load average of the machine when it started (2 cores: above 2, something else ran). */
  load: number;
}

/**
 * Measures `run` (an invocation in a fresh process, or a plain statement) while a writer inserts
 * single rows back to back and a watcher samples the maintenance session's transactions. A failed
 * invocation is reported as such in `detail` (its `result` is then undefined).
 */
export async function measureOperation<T>(
  url: string,
  name: string,
  run: () => Promise<ProcessRun<T>>,
  describe: (result: T) => string,
  log: (line: string) => void,
): Promise<MeasuredOperation & { result: T }> {
  const load = loadavg()[0] ?? 0;
  const watch = await watchLongestTransaction(url, MAINTENANCE_APP);
  const { result: invocation, ingestion } = await duringIngestion(url, name, run, { batch: 1, log });
  const longest = await watch.stop();
  // A failure is reported in the table, and the run goes on to what it can still measure.
  const outcome = invocation.error ? `FAILED: ${invocation.error.name}: ${invocation.error.message}` : describe(invocation.result as T);
  const detail = longest.interrupted ? `${outcome} (lock sampling stopped early: ${longest.interrupted})` : outcome;
  log(`${name}: ${Math.round(invocation.ms)} ms, ${detail}; worst insert ${ingestion.max.toFixed(1)} ms (load ${load.toFixed(2)})`);
  if (longest.holdingInsertsStatement) {
    log(
      `  longest transaction holding inserts back: ${Math.round(longest.holdingInserts)} ms, at: ${longest.holdingInsertsStatement.replace(/\s+/g, ' ')}`,
    );
  }
  const waits = Object.entries(longest.slowInsertWaits).sort((a, b) => b[1] - a[1]);
  if (waits.length > 0) {
    log(
      `  inserts over ${SLOW_INSERT_MS} ms, sampled, waiting on: ${waits
        .slice(0, 4)
        .map(([wait, n]) => `${n} x ${wait}`)
        .join('; ')}`,
    );
  }
  return {
    name,
    ms: invocation.ms,
    slowInsertWaits: longest.slowInsertWaits,
    longestTransactionMs: longest.any,
    longestBlockingMs: longest.holdingInserts,
    peakRssMiB: invocation.peakRssMiB,
    detail,
    ingestion,
    load,
    result: invocation.result as T,
  };
}

/**
 * Runs `work` in this process, shaped as an invocation for measureOperation: its time, and a
 * failure as its error (then reported in the table). No peak RSS of its own: NaN.
 */
export async function runInProcess<T>(work: () => Promise<T>): Promise<ProcessRun<T>> {
  const started = performance.now();
  try {
    const result = await work();
    return { ms: performance.now() - started, peakRssMiB: Number.NaN, result };
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    return { ms: performance.now() - started, peakRssMiB: Number.NaN, error: { name, message } };
  }
}

/**
 * measureOperation of plain SQL on a session of its own, named as the maintenance sessions are
 * (the lock watcher samples it), timed from connected to done: the baselines the tool is compared
 * with. `work` returns the rows it changed. No peak RSS: the work is the server's.
 */
export async function measurePlainSql(
  db: BenchDatabase,
  name: string,
  work: (client: pg.Client) => Promise<number>,
  describe: (rows: number) => string,
  log: (line: string) => void,
): Promise<MeasuredOperation & { result: number }> {
  const client = new pg.Client({ connectionString: db.url, application_name: MAINTENANCE_APP });
  await client.connect();
  try {
    const measured = await measureOperation(db.url, name, () => runInProcess(() => work(client)), describe, log);
    return { ...measured, peakRssMiB: null };
  } finally {
    await client.end();
  }
}
