import pg from 'pg';
import {
  assertSchemaInstalled,
  findDayTable,
  findLeftoverDayTables,
  IN_PROGRESS_COMMENT,
  isDayCovered,
  listColumns,
  listPartitions,
  runwayDays,
} from './catalog';
import { errorMessage, type OperationContext } from './context';
import { dayBoundLiterals, dayOf, daySeries, partitionName } from './days';
import { quoteIdent } from './db/identifiers';
import { runWithLockTimeout, setLocalLockTimeout } from './db/lock-timeout';
import { connectionLostError, isConnectionLost, withAdvisoryLock, withClient } from './db/sessions';
import { assertTimeForStep } from './deadline';
import { DeadlineError, PartialFailureError } from './errors';
import { TIME_SERIES_TABLES, type TimeSeriesTable } from './tables';

export interface PartitionsInput {
  /** Days of partitions to keep ready, today (UTC) included: 1 to 366. */
  daysAhead: number;
}

export interface TablePartitionsReport {
  table: TimeSeriesTable;
  /** `stopped`: the run reached its deadline while on this table (tables after it are absent). */
  status: 'ok' | 'failed' | 'stopped';
  /** Partitions this run created (window days and days emptied out of the default partition). */
  created: string[];
  /** Window partitions that already existed. */
  present: string[];
  /** Rows moved out of the default partition into their day's partition. */
  rows_moved: number;
  /** Rows left in the default partition because their ts is infinite, BC or past year 9999. */
  rows_unplaceable: number;
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
      await assertSchemaInstalled(client);
      for (const table of TIME_SERIES_TABLES) {
        await ensureTablePartitions(ctx, client, table, today, input.daysAhead, report);
      }
    }).catch((error: unknown) => {
      if (!isConnectionLost(error)) throw error;
      throw connectionLostError('partitions', client, error, summarise(report));
    }),
  );
  summarise(report);
  const failed = report.tables.filter((t) => t.status === 'failed');
  if (failed.length > 0) {
    const summary = failed.map(
      (t) => `${t.table} (${t.errors.length > 1 ? `${t.errors.length} steps failed, first: ` : ''}${t.errors[0]})`,
    );
    throw new PartialFailureError(`partitions failed on ${summary.join(', ')}`, { report });
  }
  return report;
}

function summarise(report: PartitionsReport): PartitionsReport {
  report.partitions_created = 0;
  report.rows_moved = 0;
  for (const t of report.tables) {
    report.partitions_created += t.created.length;
    report.rows_moved += t.rows_moved;
  }
  return report;
}

/** Brings one table's partitions up to date; its result goes into `report` as it goes. */
async function ensureTablePartitions(
  ctx: OperationContext,
  client: pg.ClientBase,
  table: TimeSeriesTable,
  today: string,
  daysAhead: number,
  report: PartitionsReport,
): Promise<void> {
  const result: TablePartitionsReport = {
    table,
    status: 'ok',
    created: [],
    present: [],
    rows_moved: 0,
    rows_unplaceable: 0,
    runway_days: 0,
    errors: [],
  };
  report.tables.push(result);
  const assertTimeFor = (step: string) =>
    assertTimeForStep(ctx, `${step} (${table})`, () => {
      result.status = 'stopped';
      return summarise(report);
    });
  const recordFailure = (what: string, error: unknown) => {
    const message = errorMessage(error);
    result.status = 'failed';
    result.errors.push(message.startsWith(what) ? message : `${what}: ${message}`);
    // The report carries every failure; the entry point logs or prints it once.
    ctx.log.info('partition step failed', { table, step: what, error: message });
  };
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (error) {
      recordFailure(what, error);
      // The other steps cannot run on a dead session: the run ends here.
      if (isConnectionLost(error)) throw error;
    }
  };

  try {
    let partitions = await listPartitions(client, table);
    const defaultPartition = partitions.find((p) => p.isDefault)?.name;
    const columns = await listColumns(client, table);

    // Empty the default partition first: a day with rows there cannot be attached otherwise.
    // Standalone day tables left by an interrupted run hold moved rows: finish them too.
    const inDefault = defaultPartition ? await daysInDefault(client, defaultPartition) : { days: new Set<string>(), unplaceable: 0 };
    const defaultDays = inDefault.days;
    if (inDefault.unplaceable > 0) {
      result.rows_unplaceable = inDefault.unplaceable;
      ctx.log.warn('rows with a ts no day partition can hold stay in the default partition', { table, rows: inDefault.unplaceable });
    }
    const leftovers = await findLeftoverDayTables(client, table);
    for (const day of [...new Set([...defaultDays, ...leftovers])].sort()) {
      assertTimeFor(`moving ${day} out of the default partition`);
      await attempt(`move ${day} out of ${defaultPartition ?? 'the default partition'}`, async () => {
        result.rows_moved += await createDayPartition(ctx, client, {
          table,
          day,
          defaultPartition,
          columns,
          rowsWaiting: defaultDays.has(day),
        });
        result.created.push(partitionName(table, day));
      });
    }

    // Re-read the catalog only when this run changed it: a run with nothing to do reads it once.
    if (result.created.length > 0) partitions = await listPartitions(client, table);
    const createdBefore = result.created.length;
    for (const day of daySeries(today, daysAhead)) {
      const name = partitionName(table, day);
      if (isDayCovered(partitions, day)) {
        if (!result.created.includes(name)) result.present.push(name);
        continue;
      }
      assertTimeFor(`creating ${name}`);
      await attempt(`create ${name}`, async () => {
        result.rows_moved += await createDayPartition(ctx, client, { table, day, defaultPartition, columns, rowsWaiting: false });
        result.created.push(name);
        ctx.progress?.(`${table}: created ${name}`);
      });
    }
    if (result.created.length > createdBefore) partitions = await listPartitions(client, table);
    result.runway_days = runwayDays(partitions, today);
  } catch (error) {
    if (error instanceof DeadlineError || isConnectionLost(error)) throw error;
    // Reading the catalog or the default partition failed: this table is done for this run.
    recordFailure('read partitions', error);
  }
}

/** Rows whose ts can have a day partition: finite, years 1 to 9999. */
const PLACEABLE_TS = `isfinite(ts) AND ts >= '0001-01-01 00:00:00+00' AND ts < '10000-01-01 00:00:00+00'`;

/**
 * UTC days that have rows in a default partition, and how many rows can have no day partition
 * (infinity, BC or beyond year 9999): those stay in the default partition and are reported.
 * Cost: one scan of the default partition, which is normally empty.
 */
async function daysInDefault(client: pg.ClientBase, defaultPartition: string): Promise<{ days: Set<string>; unplaceable: number }> {
  const { rows } = await client.query<{ day: string | null; n: string }>(
    `SELECT CASE WHEN ${PLACEABLE_TS} THEN to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') END AS day, count(*) AS n
       FROM ${quoteIdent(defaultPartition)} GROUP BY 1`,
  );
  return {
    days: new Set(rows.flatMap((row) => (row.day === null ? [] : [row.day]))),
    unplaceable: rows.reduce((n, row) => n + (row.day === null ? Number(row.n) : 0), 0),
  };
}

/**
 * Longest wait for the parent and default locks in the attach transaction, while inserts queue
 * behind it (DB_LOCK_TIMEOUT_MS applies when it is shorter).
 */
const ATTACH_LOCK_WAIT_MS = 200;

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
 * default partition, then, in one short transaction, the parent locked against inserts (see
 * attach), stragglers swept, ATTACH and the redundant CHECK dropped. Every DDL step runs under lock_timeout with retries. A
 * standalone table left by an interrupted run is picked up and finished. Returns rows moved.
 */
async function createDayPartition(ctx: OperationContext, client: pg.ClientBase, plan: DayPartitionPlan): Promise<number> {
  const { table, day, defaultPartition, columns } = plan;
  const name = partitionName(table, day);
  const bounds = dayBoundLiterals(day);
  const check = `${name}_bounds`;

  const state = await findDayTable(client, name);
  if (state === 'partition') {
    throw new Error(`${name} exists and is a partition, but its bounds do not cover ${day}; rename or drop it`);
  }
  if (state === 'foreign') {
    throw new Error(
      `a table named ${name} exists and is not a partition (detached or made by hand?); rename or drop it so the day can be partitioned`,
    );
  }
  const createStandalone = async () => {
    if (state === 'ours') {
      await client.query(`ALTER TABLE ${quoteIdent(name)} DROP CONSTRAINT IF EXISTS ${quoteIdent(check)}`);
    } else {
      await client.query(
        `CREATE TABLE ${quoteIdent(name)} (LIKE ${quoteIdent(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS)`,
      );
      await client.query(`COMMENT ON TABLE ${quoteIdent(name)} IS ${pg.escapeLiteral(IN_PROGRESS_COMMENT)}`);
    }
    await client.query(
      `ALTER TABLE ${quoteIdent(name)} ADD CONSTRAINT ${quoteIdent(check)} CHECK (ts >= '${bounds.from}'::timestamptz AND ts < '${bounds.to}'::timestamptz)`,
    );
  };
  const attach = async (): Promise<number> => {
    let swept = 0;
    if (defaultPartition) {
      // An INSERT picks its partition before it locks it. One that picked the default and then
      // waited for our lock there would, once ATTACH commits, fail the default's new constraint
      // ("new row for relation ..._default violates partition constraint": found by the
      // benchmark's writer). So inserts through the parent are held for the rest of this
      // transaction: the parent (ONLY: not its partitions) is locked before the default,
      // letting in-flight inserts finish; new ones wait, then route to the new partition.
      // What they wait for: our wait for the parent and for the default (each at most
      // ATTACH_LOCK_WAIT_MS), the sweep of this day's last rows, ATTACH's scan of the default
      // (near-empty once the day's rows are moved) and its foreign-key check of the moved rows.
      // The locks ATTACH needs on the referenced tables come first, while inserts still flow
      // (their foreign-key checks take ROW SHARE, which this lock does not block).
      await client.query(`LOCK TABLE exchanges, markets IN SHARE ROW EXCLUSIVE MODE`);
      // Short waits from here: inserts queue behind them, and an ingestion transaction that
      // writes markets and a time-series table together can form a lock cycle with us; giving
      // up before PostgreSQL's deadlock_timeout (1 s by default) makes the run, not the insert,
      // the one that yields. The step is retried with backoff.
      await setLocalLockTimeout(client, Math.min(ctx.settings.lockTimeoutMs, ATTACH_LOCK_WAIT_MS));
      await client.query(`LOCK TABLE ONLY ${quoteIdent(table)} IN SHARE ROW EXCLUSIVE MODE`);
      // ATTACH locks the default partition ACCESS EXCLUSIVE anyway; taking it first means no new
      // row of this day can land there between the last move and the attach.
      await client.query(`LOCK TABLE ${quoteIdent(defaultPartition)} IN ACCESS EXCLUSIVE MODE`);
      swept = await moveRows(client, defaultPartition, name, columns, day, null);
    }
    await client.query(
      `ALTER TABLE ${quoteIdent(table)} ATTACH PARTITION ${quoteIdent(name)} FOR VALUES FROM ('${bounds.from}') TO ('${bounds.to}')`,
    );
    await client.query(`ALTER TABLE ${quoteIdent(name)} DROP CONSTRAINT ${quoteIdent(check)}`);
    await client.query(`COMMENT ON TABLE ${quoteIdent(name)} IS NULL`);
    return swept;
  };

  if (!plan.rowsWaiting || !defaultPartition) {
    return runWithLockTimeout(client, `create ${name}`, ctx.settings, ctx.log, async () => {
      await createStandalone();
      return attach();
    });
  }

  await runWithLockTimeout(client, `prepare ${name}`, ctx.settings, ctx.log, createStandalone);
  let moved = 0;
  try {
    // Bounded batches, each its own short transaction: inserts into the default partition keep
    // going meanwhile; stragglers are moved under the lock just before ATTACH. Until the attach
    // commits, the moved rows sit in the standalone table, out of sight of queries on the parent.
    for (;;) {
      const batch = await runWithLockTimeout(client, `move rows into ${name}`, ctx.settings, ctx.log, () =>
        moveRows(client, defaultPartition, name, columns, day, ctx.settings.batchSize),
      );
      moved += batch;
      if (batch > 0) ctx.progress?.(`${table}: moved ${moved} rows of ${day} out of ${defaultPartition}`);
      if (batch < ctx.settings.batchSize) break;
    }
    moved += await runWithLockTimeout(client, `attach ${name}`, ctx.settings, ctx.log, attach);
  } catch (error) {
    throw new Error(`${errorMessage(error)}; ${await putRowsBack(ctx, client, table, name, columns)}`, { cause: error });
  }
  ctx.log.info('default partition rows moved', { table, day, rows: moved });
  return moved;
}

/**
 * After a failed move or attach, returns the rows of a standalone day table to the parent (they
 * land in the default partition again, visible to queries) and drops the table, so a failed
 * run leaves nothing hidden. If even that fails, the next run attaches the table as it is.
 */
async function putRowsBack(
  ctx: OperationContext,
  client: pg.ClientBase,
  table: string,
  standalone: string,
  columns: string[],
): Promise<string> {
  const list = columns.map(quoteIdent).join(', ');
  try {
    const restored = await runWithLockTimeout(client, `put back ${standalone}`, ctx.settings, ctx.log, async () => {
      const result = await client.query(`INSERT INTO ${quoteIdent(table)} (${list}) SELECT ${list} FROM ${quoteIdent(standalone)}`);
      await client.query(`DROP TABLE ${quoteIdent(standalone)}`);
      return result.rowCount ?? 0;
    });
    return `the ${restored} rows moved so far are back in the default partition; the next run tries again`;
  } catch (error) {
    return `the rows moved so far are in table ${standalone}, not yet attached (${errorMessage(error)}); the next run attaches it`;
  }
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
