import pg from 'pg';
import type { PartitionsReport } from '../../functions/operations/partitions/partitions';
import { addDays, dayOf, dayStart } from '../../functions/shared/days';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { buildHandlers } from '../../infra/bundling';
import { loadDefaultBacklog, seedMarkets } from '../support/data';
import { type BenchDatabase, createBenchDatabase } from '../support/database';
import { invokeInFreshProcess } from '../support/handler-process';
import { SCALE_SYMBOLS } from '../support/scale-data';
import { type MeasuredOperation, measureOperation, measurePlainSql } from '../support/scenario';

export interface RecoveryResult extends MeasuredOperation {
  rowsPerTable: number;
  rowsMoved: number;
  rowsPerSecond: number;
  /** Every backlog row is visible through its parent after the run, in a day partition. */
  allVisible: boolean;
  /** The same rows written by plain SQL on the same server, the same writer running: the floor any recovery stands on. */
  plainCopy: PlainCopy;
}

/** copyPlainly's measurement, with the rows it copied. */
type PlainCopy = MeasuredOperation & { rows: number };

/**
 * The partitions job did not run for three days: `rowsPerTable` rows per table wait in the
 * DEFAULT partitions, spread from 00:00 UTC two days ago until now. One `partitions` run (7 days
 * ahead) in a fresh process recovers them while a writer inserts today's rows one at a time.
 */
export async function recoverBacklog(adminUrl: string, rowsPerTable: number, log: (line: string) => void): Promise<RecoveryResult> {
  // The run below invokes the partitions bundle: built from this checkout (a fresh one has none).
  await buildHandlers();
  const db = await createBenchDatabase(adminUrl, 'bench_recovery');
  try {
    await seedMarkets(db.url, SCALE_SYMBOLS);
    const loadedAt = new Date();
    const from = dayStart(addDays(dayOf(loadedAt), -2));
    for (const table of TIME_SERIES_TABLES) await loadDefaultBacklog(db.url, table, rowsPerTable, from, loadedAt, SCALE_SYMBOLS);
    // The load's own writes are not the recovery's to pay for.
    await db.query('CHECKPOINT');
    log(`recovery: ${rowsPerTable} rows per table in the DEFAULT partitions`);
    const operation = await measureOperation<PartitionsReport>(
      db.url,
      `recover a 3-day backlog of ${rowsPerTable.toExponential(1)} rows per table`,
      () => invokeInFreshProcess('partitions', { daysAhead: 7 }, db.url),
      (report) => `${report.rows_moved} rows moved, ${report.partitions_created} partitions created`,
      log,
    );
    const { result, ...measured } = operation;
    const rowsMoved = result?.rows_moved ?? 0;
    // Object properties are evaluated in order: the rows are checked before the plain copy runs.
    return {
      ...measured,
      rowsPerTable,
      rowsMoved,
      rowsPerSecond: rowsMoved / (operation.ms / 1000),
      allVisible: await allVisible(db.url, loadedAt, rowsPerTable),
      plainCopy: await copyPlainly(db, loadedAt, log),
    };
  } finally {
    await db.drop();
  }
}

/**
 * The least writing any recovery of these rows does: one `INSERT ... SELECT` per table of the
 * backlog's rows into a bare table, then the parent's indexes built on it. No partitioning and no
 * lock that blocks inserts: what the writer's inserts suffer here is the server's, whatever
 * tool writes the rows. It runs after the recovery, so it finds the WAL segments the recovery
 * left to recycle: the comparison favours it.
 */
async function copyPlainly(db: BenchDatabase, loadedAt: Date, log: (line: string) => void): Promise<PlainCopy> {
  await db.query('CHECKPOINT');
  const { result: rows, ...measured } = await measurePlainSql(
    db,
    'the same rows by plain SQL: INSERT ... SELECT per table, then its indexes',
    async (client) => {
      let copied = 0;
      for (const table of TIME_SERIES_TABLES) {
        const copy = `plain_${table}`;
        await client.query(`CREATE TABLE ${copy} (LIKE ${table} INCLUDING DEFAULTS)`);
        copied += (await client.query(`INSERT INTO ${copy} SELECT * FROM ${table} WHERE ts < $1`, [loadedAt])).rowCount ?? 0;
        const { rows: indexes } = await client.query<{ definition: string }>(
          'SELECT pg_get_indexdef(indexrelid) AS definition FROM pg_index WHERE indrelid = $1::regclass',
          [table],
        );
        // "CREATE INDEX name ON ONLY public.trades USING ..." becomes "CREATE INDEX ON plain_trades USING ...".
        for (const { definition } of indexes) await client.query(definition.replace(/INDEX \S+ ON ONLY \S+/, `INDEX ON ${copy}`));
      }
      return copied;
    },
    (copied) => `${copied} rows copied`,
    log,
  );
  return { ...measured, rows };
}

/** Each parent shows every backlog row (ts before `loadedAt`), no DEFAULT partition holds one, no backlog table is left. */
export async function allVisible(url: string, loadedAt: Date, rowsPerTable: number): Promise<boolean> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    for (const table of TIME_SERIES_TABLES) {
      const { rows } = await client.query<{ visible: number; waiting: number }>(
        `SELECT (SELECT count(*) FROM ${table} WHERE ts < $1)::int AS visible, (SELECT count(*) FROM ${table}_default)::int AS waiting`,
        [loadedAt],
      );
      if (rows[0]?.visible !== rowsPerTable || rows[0]?.waiting !== 0) return false;
    }
    const left = await client.query(`SELECT 1 FROM pg_class WHERE relname LIKE '%\\_backlog\\_%'`);
    return left.rowCount === 0;
  } finally {
    await client.end();
  }
}
