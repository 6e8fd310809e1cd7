import type pg from 'pg';
import { findStandaloneTable, isDayCovered, listColumns, listPartitions, type PartitionInfo, runwayDays } from './catalog';
import { errorMessage, type OperationContext } from './context';
import { dayBoundLiterals, dayOf, daySeries, partitionName } from './days';
import { runDdl } from './db/ddl';
import { quoteIdent } from './db/identifiers';
import { withAdvisoryLock, withClient, withTransaction } from './db/sessions';
import { PartialFailureError } from './errors';
import { TIME_SERIES_TABLES, type TimeSeriesTable } from './tables';

export interface PartitionsInput {
  /** Days of partitions to keep ready, today (UTC) included: 1 to 366. */
  daysAhead: number;
}

export interface TablePartitionsReport {
  table: TimeSeriesTable;
  status: 'ok' | 'failed';
  /** Partitions this run created (window days and days emptied out of the default partition). */
  created: string[];
  /** Window partitions that already existed. */
  present: string[];
  /** Rows moved out of the default partition into their day's partition. */
  rows_moved: number;
  runway_days: number;
  errors: string[];
}

export interface PartitionsReport {
  operation: 'partitions';
  today: string;
  days_ahead: number;
  partitions_created: number;
  rows_moved: number;
  tables: TablePartitionsReport[];
}

/**
 * Keeps daily partitions for today (UTC) through today + daysAhead - 1 on every time-series
 * table, and empties each DEFAULT partition into real day partitions (past days included), so
 * a row that arrived early or late is never stuck and never blocks a partition. A failure on
 * one table does not stop the others; the run throws PartialFailureError at the end if any failed.
 */
export async function ensurePartitions(ctx: OperationContext, input: PartitionsInput): Promise<PartitionsReport> {
  const today = dayOf(ctx.now());
  const report: PartitionsReport = {
    operation: 'partitions',
    today,
    days_ahead: input.daysAhead,
    partitions_created: 0,
    rows_moved: 0,
    tables: [],
  };
  await withClient(ctx.pool, (client) =>
    withAdvisoryLock(client, 'partitions', { wait: false }, async () => {
      for (const table of TIME_SERIES_TABLES) {
        report.tables.push(await ensureTablePartitions(ctx, client, table, today, input.daysAhead));
      }
    }),
  );
  for (const t of report.tables) {
    report.partitions_created += t.created.length;
    report.rows_moved += t.rows_moved;
  }
  const failed = report.tables.filter((t) => t.status === 'failed');
  if (failed.length > 0) {
    throw new PartialFailureError(`partitions failed on ${failed.map((t) => `${t.table} (${t.errors.join('; ')})`).join(', ')}`, {
      report,
    });
  }
  return report;
}

async function ensureTablePartitions(
  ctx: OperationContext,
  client: pg.ClientBase,
  table: TimeSeriesTable,
  today: string,
  daysAhead: number,
): Promise<TablePartitionsReport> {
  const result: TablePartitionsReport = { table, status: 'ok', created: [], present: [], rows_moved: 0, runway_days: 0, errors: [] };
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (error) {
      result.status = 'failed';
      result.errors.push(`${what}: ${errorMessage(error)}`);
      ctx.log.error('partition step failed', { table, step: what, error: errorMessage(error) });
    }
  };

  let partitions: PartitionInfo[] = [];
  await attempt('read partitions', async () => {
    partitions = await listPartitions(client, table);
  });
  if (result.status === 'failed') return result;
  const defaultPartition = partitions.find((p) => p.isDefault)?.name;
  const columns = await listColumns(client, table);

  // Empty the default partition first: a day with rows there cannot be attached otherwise.
  const defaultDays = defaultPartition ? await daysInDefault(client, defaultPartition) : new Map<string, number>();
  for (const day of defaultDays.keys()) {
    await attempt(`move ${day} out of ${defaultPartition}`, async () => {
      const moved = await createDayPartition(ctx, client, { table, day, defaultPartition, columns, rowsWaiting: true });
      result.created.push(partitionName(table, day));
      result.rows_moved += moved;
    });
  }

  partitions = await listPartitions(client, table);
  for (const day of daySeries(today, daysAhead)) {
    const name = partitionName(table, day);
    if (isDayCovered(partitions, day)) {
      if (!result.created.includes(name)) result.present.push(name);
      continue;
    }
    await attempt(`create ${name}`, async () => {
      result.rows_moved += await createDayPartition(ctx, client, { table, day, defaultPartition, columns, rowsWaiting: false });
      result.created.push(name);
      ctx.progress?.(`${table}: created ${name}`);
    });
  }

  result.runway_days = runwayDays(await listPartitions(client, table), today);
  return result;
}

/** Rows per UTC day in a default partition. Cost: one scan of the default partition, which is normally empty. */
async function daysInDefault(client: pg.ClientBase, defaultPartition: string): Promise<Map<string, number>> {
  const { rows } = await client.query<{ day: string; n: string }>(
    `SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS n
       FROM ${quoteIdent(defaultPartition)} GROUP BY 1 ORDER BY 1`,
  );
  return new Map(rows.map((row) => [row.day, Number(row.n)]));
}

interface DayPartitionPlan {
  table: TimeSeriesTable;
  day: string;
  defaultPartition: string | undefined;
  columns: string[];
  /** The default partition is known to hold rows of this day: move them in batches first. */
  rowsWaiting: boolean;
}

/**
 * Creates one day's partition the low-lock way: a standalone table shaped like the parent with
 * a CHECK matching the bounds (so ATTACH need not scan it), rows of that day moved out of the
 * default partition, then ATTACH (SHARE UPDATE EXCLUSIVE on the parent: inserts keep flowing)
 * and the redundant CHECK dropped. Every DDL step runs under lock_timeout with retries. A
 * standalone table left by an interrupted run is picked up and finished. Returns rows moved.
 */
async function createDayPartition(ctx: OperationContext, client: pg.ClientBase, plan: DayPartitionPlan): Promise<number> {
  const { table, day, defaultPartition, columns } = plan;
  const name = partitionName(table, day);
  const bounds = dayBoundLiterals(day);
  const check = `${name}_bounds`;
  let moved = 0;

  const state = await findStandaloneTable(client, name);
  if (state === 'partition') {
    throw new Error(`${name} exists and is a partition, but its bounds do not cover ${day}; rename or drop it`);
  }
  const createStandalone = async () => {
    if (state === 'standalone') {
      await client.query(`ALTER TABLE ${quoteIdent(name)} DROP CONSTRAINT IF EXISTS ${quoteIdent(check)}`);
    } else {
      await client.query(
        `CREATE TABLE ${quoteIdent(name)} (LIKE ${quoteIdent(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS)`,
      );
    }
    await client.query(
      `ALTER TABLE ${quoteIdent(name)} ADD CONSTRAINT ${quoteIdent(check)} CHECK (ts >= '${bounds.from}'::timestamptz AND ts < '${bounds.to}'::timestamptz)`,
    );
  };
  const attach = async () => {
    if (defaultPartition) {
      // ATTACH locks the default partition ACCESS EXCLUSIVE anyway; taking it first means no new
      // row of this day can land there between the last move and the attach.
      await client.query(`LOCK TABLE ${quoteIdent(defaultPartition)} IN ACCESS EXCLUSIVE MODE`);
      moved += await moveRows(client, defaultPartition, name, columns, day, null);
    }
    await client.query(
      `ALTER TABLE ${quoteIdent(table)} ATTACH PARTITION ${quoteIdent(name)} FOR VALUES FROM ('${bounds.from}') TO ('${bounds.to}')`,
    );
    await client.query(`ALTER TABLE ${quoteIdent(name)} DROP CONSTRAINT ${quoteIdent(check)}`);
  };

  if (!plan.rowsWaiting || !defaultPartition) {
    await runDdl(client, `create ${name}`, ctx.settings, ctx.log, async () => {
      await createStandalone();
      await attach();
    });
    return moved;
  }

  await runDdl(client, `prepare ${name}`, ctx.settings, ctx.log, createStandalone);
  // Bounded batches, each its own short transaction: inserts into the default partition keep
  // going meanwhile; stragglers are moved under the lock just before ATTACH.
  for (;;) {
    const batch = await withTransaction(client, () => moveRows(client, defaultPartition, name, columns, day, ctx.settings.batchSize));
    moved += batch;
    if (batch > 0) ctx.progress?.(`${table}: moved ${moved} rows of ${day} out of ${defaultPartition}`);
    if (batch < ctx.settings.batchSize) break;
  }
  await runDdl(client, `attach ${name}`, ctx.settings, ctx.log, attach);
  ctx.log.info('default partition rows moved', { table, day, rows: moved });
  return moved;
}

/**
 * Moves rows of one day from the default partition into `target` in one statement: DELETE ...
 * RETURNING feeds the INSERT, so a row is in exactly one place at every commit.
 */
async function moveRows(
  client: pg.ClientBase,
  defaultPartition: string,
  target: string,
  columns: string[],
  day: string,
  limit: number | null,
): Promise<number> {
  const bounds = dayBoundLiterals(day);
  const list = columns.map(quoteIdent).join(', ');
  const source = quoteIdent(defaultPartition);
  const inDay = 'ts >= $1::timestamptz AND ts < $2::timestamptz';
  // Without a limit (the final sweep, under the lock) whatever is left of the day is taken.
  const which = limit === null ? inDay : `ctid = ANY (ARRAY(SELECT ctid FROM ${source} WHERE ${inDay} LIMIT $3))`;
  const result = await client.query(
    `WITH moved AS (DELETE FROM ${source} WHERE ${which} RETURNING ${list})
     INSERT INTO ${quoteIdent(target)} (${list}) SELECT ${list} FROM moved`,
    limit === null ? [bounds.from, bounds.to] : [bounds.from, bounds.to, limit],
  );
  return result.rowCount ?? 0;
}
