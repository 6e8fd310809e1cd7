import type pg from 'pg';
import { type CopyProgress, copyDayOut, type DayCopy, readCopyProgress } from '../../shared/backlog-copy';
import {
  assertSchemaInstalled,
  catalogEstimates,
  type ForeignKey,
  isDayCovered,
  listBacklogTables,
  listColumns,
  listDayTables,
  listForeignKeys,
  listPartitions,
  type PartitionInfo,
  runwayDays,
} from '../../shared/catalog';
import { errorMessage, type OperationContext } from '../../shared/context';
import {
  attachDayTable,
  buildIndexes,
  createEmptyDayPartitions,
  type DayTable,
  dayTable,
  prepareDayTable,
  validateForeignKeys,
  WINDOW_DAYS_PER_TRANSACTION,
} from '../../shared/day-partition';
import { dayBoundLiterals, dayOf, daySeries, partitionName } from '../../shared/days';
import { quoteIdent } from '../../shared/db/identifiers';
import { quietLockWait, runWithLockTimeout } from '../../shared/db/locks';
import { connectionLostError, withAdvisoryLock, withClient } from '../../shared/db/sessions';
import { isConnectionFailure } from '../../shared/db/sql-errors';
import { assertTimeForStep } from '../../shared/deadline';
import { countUnplaceableRows, daysWithRows, hasPlaceableRows, takeDefaultBacklog, UNPLACEABLE } from '../../shared/default-backlog';
import { dropEmptiedTable } from '../../shared/drop-table';
import { DatabaseUnavailableError, DeadlineError, PartialFailureError } from '../../shared/errors';
import { type PieceProgress, startProgress } from '../../shared/progress';
import { moveAllRows, type RowMove, type TsRange } from '../../shared/row-moves';
import { countTablesOutOfSight, describeRowsOutOfSight, type RowsOutOfSight } from '../../shared/rows-out-of-sight';
import { attemptStep } from '../../shared/step-runner';
import { TIME_SERIES_TABLES, type TimeSeriesTable } from '../../shared/tables';

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
  /** Rows placed in their day's partition: moved out of the default partition, or copied out of the backlog it was swapped out to. */
  rows_moved: number;
  /** Rows left in the default partition because their ts is infinite, BC, or 9999-12-31 or later (no day partition can hold them). */
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
  /**
   * Tables with rows a stopped or failed run left out of sight of queries on them (in backlog
   * and unattached day tables), how many and where: the next run brings them back. Empty after a
   * run that succeeded, which placed them all.
   */
  rows_out_of_sight: RowsOutOfSight[];
  tables: TablePartitionsReport[];
}

/**
 * Keeps daily partitions for today (UTC) through today + daysAhead - 1 on every time-series
 * table, and empties each DEFAULT partition into real day partitions (past days included), so
 * a row that arrived early or late is never stuck and never blocks a partition. A loaded DEFAULT
 * partition is swapped out first, so that nothing scans its rows while inserts are held back
 * (see placeWaitingRows). A failure on one table does not stop the others; the run throws
 * PartialFailureError at the end if any failed.
 */
export async function ensurePartitions(ctx: OperationContext, input: PartitionsInput): Promise<PartitionsReport> {
  const today = dayOf(ctx.now());
  const report: PartitionsReport = {
    operation: 'partitions',
    today,
    days_ahead: input.daysAhead,
    partitions_created: 0,
    rows_moved: 0,
    rows_out_of_sight: [],
    tables: [],
  };
  await withClient(ctx.pool, (client) =>
    withAdvisoryLock(client, 'partitions', { wait: false }, async () => {
      await assertSchemaInstalled(client);
      try {
        for (const table of TIME_SERIES_TABLES) {
          await ensureTablePartitions(ctx, client, table, today, input.daysAhead, report);
        }
      } catch (error) {
        if (!(error instanceof DeadlineError)) throw error;
        // Stopped (deadline, or Ctrl-C on the command line): say what waits out of sight.
        const waiting = await readRowsOutOfSight(ctx, client, report);
        throw new DeadlineError(waiting ? `${error.message}. ${waiting}` : error.message, { report: summarise(report), cause: error });
      }
      if (report.tables.some((t) => t.status === 'failed')) await readRowsOutOfSight(ctx, client, report);
    }).catch((error: unknown) => {
      // A step's lost session is already the run's end (see attemptStep), with its report.
      if (error instanceof DatabaseUnavailableError || !isConnectionFailure(error)) throw error;
      throw connectionLostError('partitions', client, error, summarise(report));
    }),
  );
  summarise(report);
  const failed = report.tables.filter((t) => t.status === 'failed');
  if (failed.length > 0) {
    const summary = failed.map(
      (t) => `${t.table} (${t.errors.length > 1 ? `${t.errors.length} steps failed, first: ` : ''}${t.errors[0]})`,
    );
    const waiting = describeRowsOutOfSight(report.rows_out_of_sight);
    throw new PartialFailureError(`partitions failed on ${summary.join(', ')}${waiting ? `. ${waiting}` : ''}`, { report });
  }
  return report;
}

/**
 * After a run that stopped or failed: the rows it (or an earlier one) left out of sight, into
 * the report and the log, every table counted (a stopped run has not reached the later ones).
 * Returns the sentence for the error, empty when none wait.
 */
async function readRowsOutOfSight(ctx: OperationContext, client: pg.ClientBase, report: PartitionsReport): Promise<string> {
  try {
    report.rows_out_of_sight = await countTablesOutOfSight(client, TIME_SERIES_TABLES);
  } catch (error) {
    // Never in place of the error that stopped the run: that one says what happened.
    ctx.log.warn('could not count the rows out of sight', { error: errorMessage(error) });
    return '';
  }
  const sentence = describeRowsOutOfSight(report.rows_out_of_sight);
  if (sentence) ctx.log.warn('rows wait out of sight', { tables: report.rows_out_of_sight });
  return sentence;
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

/** What the steps of one table's run share. */
interface TableRun {
  ctx: OperationContext;
  client: pg.ClientBase;
  table: TimeSeriesTable;
  result: TablePartitionsReport;
  /** Throws DeadlineError (carrying the report so far) when too little time is left for `step`. */
  checkTime(step: string): void;
  /**
   * Runs one step: a failure is recorded in the report and the table goes on with the steps that
   * do not depend on it (returns false). A lost session ends the run.
   */
  attempt(what: string, fn: () => Promise<void>): Promise<boolean>;
  /** Records a failed step in the report. */
  fail(what: string, error: unknown): void;
  /** The progress of placing the table's waiting rows (see placeWaitingRows); until then, nothing. */
  recovery: PieceProgress;
}

/** A table as the catalog describes it at the start of a run. */
interface TableShape {
  partitions: PartitionInfo[];
  defaultPartition: string | undefined;
  columns: string[];
  foreignKeys: ForeignKey[];
  /** Non-partition relations with a day partition's name, by day. */
  dayTables: Map<string, 'ours' | 'foreign'>;
  /** Former DEFAULT partitions an interrupted run swapped out. */
  backlogs: string[];
}

/**
 * Brings one table's partitions up to date, in three steps: rows waiting outside day partitions
 * go into them, the window's days are created, the runway is read. Its result goes into `report`
 * as it goes.
 */
async function ensureTablePartitions(
  ctx: OperationContext,
  client: pg.ClientBase,
  table: TimeSeriesTable,
  today: string,
  daysAhead: number,
  report: PartitionsReport,
): Promise<void> {
  const run = startTableRun(ctx, client, table, report);
  let shape: TableShape | undefined;
  const read = async () => {
    shape = await readTableShape(client, table);
  };
  // Without the catalog's answer nothing can be done on this table in this run.
  if (!(await run.attempt('read partitions', read)) || !shape) return;
  const backlogLeft = await placeWaitingRows(run, shape);
  if (run.result.created.length > 0) shape.partitions = await listPartitions(client, table);
  await createWindowDays(run, shape, daySeries(today, daysAhead), backlogLeft);
  run.result.runway_days = runwayDays(run.result.created.length > 0 ? await listPartitions(client, table) : shape.partitions, today);
}

function startTableRun(ctx: OperationContext, client: pg.ClientBase, table: TimeSeriesTable, report: PartitionsReport): TableRun {
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
  const fail = (what: string, error: unknown) => {
    const message = errorMessage(error);
    result.status = 'failed';
    result.errors.push(message.startsWith(what) ? message : `${what}: ${message}`);
    // The report carries every failure; the entry point logs or prints it once.
    ctx.log.info('partition step failed', { table, step: what, error: message });
  };
  return {
    ctx,
    client,
    table,
    result,
    fail,
    recovery: startProgress(undefined, { task: 'recovery', unit: 'rows' }),
    checkTime: (step) =>
      assertTimeForStep(ctx, `${step} (${table})`, () => {
        result.status = 'stopped';
        return summarise(report);
      }),
    attempt: (what, fn) =>
      attemptStep(
        {
          operation: 'partitions',
          ctx,
          client,
          reportSoFar: () => summarise(report),
          name: () => what,
          run: fn,
          failed: (_, e) => fail(what, e),
        },
        what,
      ),
  };
}

/** One catalog read per question; a run with nothing to do reads nothing else. */
async function readTableShape(client: pg.ClientBase, table: TimeSeriesTable): Promise<TableShape> {
  const partitions = await listPartitions(client, table);
  return {
    partitions,
    defaultPartition: partitions.find((p) => p.isDefault)?.name,
    columns: await listColumns(client, table),
    foreignKeys: await listForeignKeys(client, table),
    dayTables: await listDayTables(client, table),
    backlogs: await listBacklogTables(client, table),
  };
}

/**
 * Step 1: rows waiting outside day partitions go into them. Rows in the DEFAULT partition are
 * swapped out first (see takeDefaultBacklog), so that no ATTACH scans them; then each day they
 * belong to is built and attached (see placeDay), oldest first; then the emptied backlog tables
 * are dropped. What an interrupted run left (backlog tables, day tables not yet attached) is
 * finished the same way. Returns whether rows are still waiting, in the DEFAULT partition or in a
 * backlog (a step failed).
 */
async function placeWaitingRows(run: TableRun, shape: TableShape): Promise<boolean> {
  const { client, result } = run;
  const backlogs = [...shape.backlogs];
  let swapFailed = false;
  const defaultPartition = shape.defaultPartition;
  if (defaultPartition && (await hasPlaceableRows(client, defaultPartition))) {
    run.checkTime(`swapping out ${defaultPartition}`);
    swapFailed = !(await run.attempt(`swap out ${defaultPartition}`, async () => {
      backlogs.push(await takeDefaultBacklog(run.ctx, client, { table: run.table, defaultPartition, foreignKeys: shape.foreignKeys }));
    }));
  }
  const days = new Set([...shape.dayTables].filter(([, owner]) => owner === 'ours').map(([day]) => day));
  const copied = new Map<string, CopyProgress>();
  for (const backlog of backlogs) {
    const progress = await readCopyProgress(client, backlog);
    copied.set(backlog, progress);
    for (const day of await daysWithRows(client, backlog)) if (progress.get(day) !== 'all') days.add(day);
  }
  if (days.size > 0) run.recovery = await startRecoveryProgress(run, [...backlogs, ...(defaultPartition ? [defaultPartition] : [])]);
  let allPlaced = true;
  for (const day of [...days].sort()) {
    const placed = await run.attempt(`move ${day} out of ${defaultPartition ?? 'the default partition'}`, () =>
      placeDay(run, shape, copied, day),
    );
    allPlaced &&= placed;
  }
  run.recovery.finish(result.rows_moved, allPlaced ? 'placed' : 'failed');
  if (allPlaced) {
    for (const [backlog, progress] of copied) await run.attempt(`drop ${backlog}`, () => retireBacklog(run, shape, backlog, progress));
  }
  if (defaultPartition) {
    result.rows_unplaceable = await countUnplaceableRows(client, defaultPartition);
    if (result.rows_unplaceable > 0) {
      run.ctx.log.warn('rows with a ts no day partition can hold stay in the default partition', {
        table: run.table,
        rows: result.rows_unplaceable,
      });
    }
  }
  return swapFailed || !allPlaced;
}

/**
 * The table's recovery as one progress line: rows placed of the catalog's estimate of the rows
 * in its backlogs and DEFAULT partition (none where the catalog has no estimate). Rows a stopped
 * run already copied are in the estimate, not in this run's count.
 */
async function startRecoveryProgress(run: TableRun, sources: string[]): Promise<PieceProgress> {
  const estimates = run.ctx.progress ? await catalogEstimates(run.client, sources) : new Map();
  const rows = sources.map((source) => estimates.get(source)?.rows);
  const total = rows.every((n) => n !== undefined) ? rows.reduce((sum, n) => sum + n, 0) : undefined;
  return startProgress(run.ctx.progress, { task: 'recovery', table: run.table, unit: 'rows', total, estimated: true });
}

/**
 * One day's waiting rows into its partition. A day that has none yet: a standalone table is
 * prepared, filled from the backlogs (copied: see backlog-copy.ts) and then from the DEFAULT
 * partition (rows that came in since the swap, moved) in batches, indexed, its foreign keys
 * validated, and attached (see day-partition.ts). Until the attach commits, the day's rows are out
 * of sight of queries on the parent. A day that has a partition already (made by hand since the
 * swap) takes its rows through the parent instead. `copied` holds each backlog's progress.
 */
async function placeDay(run: TableRun, shape: TableShape, copied: Map<string, CopyProgress>, day: string): Promise<void> {
  const { ctx, client, table, result } = run;
  const plan = planDay(table, shape, day);
  const existing = shape.dayTables.get(day);
  if (existing === 'foreign') throw foreignDayTableError(plan.name);
  const range = dayRange(day);
  // Counted batch by batch: a run stopped half-way reports what it moved.
  let moved = 0;
  const count = (rows: number) => {
    moved += rows;
    result.rows_moved += rows;
  };
  const copyBacklogs = async (target: string) => {
    for (const [backlog, progress] of copied) {
      await copyRowsOfDay(run, { backlog, target, columns: shape.columns, day }, progress, count);
    }
  };
  if (isDayCovered(shape.partitions, day)) {
    await copyBacklogs(table);
    if (existing === 'ours') {
      await moveRowsOfDay(run, { source: plan.name, target: table, columns: shape.columns, range }, count);
      await dropEmptiedTable(ctx, client, plan.name, shape.foreignKeys);
    }
    return;
  }
  if (shape.partitions.some((p) => p.name === plan.name)) {
    throw new Error(`${plan.name} exists and is a partition, but its bounds do not cover ${day}; rename or drop it`);
  }
  run.checkTime(`preparing ${plan.name}`);
  await prepareDayTable(ctx, client, plan, existing ?? 'none');
  try {
    await copyBacklogs(plan.name);
    if (shape.defaultPartition) {
      await moveRowsOfDay(run, { source: shape.defaultPartition, target: plan.name, columns: shape.columns, range }, count);
    }
    run.checkTime(`building the indexes of ${plan.name}`);
    await buildIndexes(ctx, client, plan);
    run.checkTime(`validating the foreign keys of ${plan.name}`);
    await validateForeignKeys(ctx, client, plan);
    run.checkTime(`attaching ${plan.name}`);
    count(await attachDayTable(ctx, client, plan));
  } catch (error) {
    if (error instanceof DeadlineError || isConnectionFailure(error)) throw error;
    throw new Error(
      `${errorMessage(error)}; the rows of ${day} moved so far (${moved} in this run) wait in table ${plan.name}, out of sight of queries on ${table}; the next run attaches it`,
      { cause: error },
    );
  }
  result.created.push(plan.name);
  ctx.log.info('default partition rows moved', { table, day, rows: moved });
}

/** What building `day`'s partition of `table` needs, from the table's shape. */
function planDay(table: TimeSeriesTable, shape: TableShape, day: string): DayTable {
  return dayTable({ table, defaultPartition: shape.defaultPartition, columns: shape.columns, foreignKeys: shape.foreignKeys }, day);
}

/** A day's bounds as a ts range. */
function dayRange(day: string): TsRange {
  const { from, to } = dayBoundLiterals(day);
  return { from, to };
}

function foreignDayTableError(name: string): Error {
  return new Error(
    `a table named ${name} exists and is not a partition (detached or made by hand?); rename or drop it so the day can be partitioned`,
  );
}

/** Moves one source's rows of one range, in batches, a deadline check before each; `count` hears of each batch. */
function moveRowsOfDay(run: TableRun, move: RowMove, count: (rows: number) => void = () => {}): Promise<number> {
  return moveAllRows(run.ctx, run.client, move, {
    beforeBatch: () => run.checkTime(`moving rows out of ${move.source} into ${move.target}`),
    afterBatch: (rows) => {
      count(rows);
      run.recovery.advance(run.result.rows_moved);
    },
  });
}

/** Copies one backlog's rows of one day, in batches, a deadline check before each; `count` hears of each batch. */
function copyRowsOfDay(run: TableRun, copy: DayCopy, progress: CopyProgress, count: (rows: number) => void): Promise<number> {
  return copyDayOut(run.ctx, run.client, copy, progress, {
    beforeBatch: () => run.checkTime(`copying rows out of ${copy.backlog} into ${copy.target}`),
    afterBatch: (rows) => {
      count(rows);
      run.recovery.advance(run.result.rows_moved);
    },
  });
}

/**
 * The end of a backlog table: its rows no day partition can hold (infinite, BC, 9999-12-31 on) go
 * back through the parent into the DEFAULT partition, where they lived before, and the table is
 * dropped with the copied rows it still holds. Under the lock of its drop, every day it holds
 * rows of must be copied (`progress`): none is dropped before it is placed.
 */
async function retireBacklog(run: TableRun, shape: TableShape, backlog: string, progress: CopyProgress): Promise<void> {
  for (const range of UNPLACEABLE) await moveRowsOfDay(run, { source: backlog, target: run.table, columns: shape.columns, range });
  run.checkTime(`dropping ${backlog}`);
  await dropEmptiedTable(run.ctx, run.client, backlog, shape.foreignKeys, async (client) => {
    const notCopied = (await daysWithRows(client, backlog)).filter((day) => progress.get(day) !== 'all');
    if (notCopied.length > 0) throw new Error(`${backlog} holds rows of ${notCopied.join(', ')} not copied yet; the next run copies them`);
  });
}

/**
 * Step 2: the window's days that have no partition, created and attached a few days per
 * transaction. Skipped while rows wait in the DEFAULT partition (its swap failed): ATTACH would
 * scan them all while it holds inserts back. The next run creates them.
 */
async function createWindowDays(run: TableRun, shape: TableShape, days: string[], backlogLeft: boolean): Promise<void> {
  const { ctx, client, table, result } = run;
  const missing: string[] = [];
  for (const day of days) {
    const name = partitionName(table, day);
    if (isDayCovered(shape.partitions, day)) {
      if (!result.created.includes(name)) result.present.push(name);
    } else if (shape.dayTables.get(day) !== 'ours') {
      // An `ours` table here is a day step 1 could not finish; its error is in the report.
      missing.push(day);
    }
  }
  if (missing.length === 0) return;
  if (backlogLeft && shape.defaultPartition && (await hasPlaceableRows(client, shape.defaultPartition))) {
    const names = missing.map((day) => partitionName(table, day));
    run.fail(
      `create ${names.join(', ')}`,
      new Error(`not created while rows wait in ${shape.defaultPartition}; the next run creates them`),
    );
    return;
  }
  const plans: DayTable[] = [];
  for (const day of missing) {
    const plan = planDay(table, shape, day);
    // Its own failure, so the other days are still created.
    if (shape.dayTables.get(day) === 'foreign') run.fail(`create ${plan.name}`, foreignDayTableError(plan.name));
    else plans.push(plan);
  }
  for (let i = 0; i < plans.length; i += WINDOW_DAYS_PER_TRANSACTION) {
    const group = plans.slice(i, i + WINDOW_DAYS_PER_TRANSACTION);
    run.checkTime(`creating ${group[0]?.name}`);
    const created = await run.attempt(`create ${group.map((plan) => plan.name).join(', ')}`, async () => {
      result.rows_moved += await createEmptyDayPartitions(ctx, client, group);
      for (const plan of group) result.created.push(plan.name);
    });
    if (created) await analyzeNewPartitions(ctx, client, group);
  }
}

/**
 * ANALYZE of partitions just created, nearly always empty: a few ms, after their transaction
 * (SHARE UPDATE EXCLUSIVE on them alone, which inserts do not wait for). It makes them settled
 * from the start, so stats reads their sizes from the catalog until their first rows come in
 * (see leaf-sizes.ts), instead of opening every file of the days ahead on every run.
 */
async function analyzeNewPartitions(ctx: OperationContext, client: pg.ClientBase, plans: DayTable[]): Promise<void> {
  const names = plans.map((plan) => quoteIdent(plan.name)).join(', ');
  try {
    await runWithLockTimeout(client, `analyze ${names}`, ctx.settings, ctx.log, async () => {
      await client.query(quietLockWait(ctx));
      await client.query(`ANALYZE ${names}`);
    });
  } catch (error) {
    if (isConnectionFailure(error)) throw error;
    // Not a failure of the run: stats then measures them from their files, as before.
    ctx.log.warn('new partitions not analyzed', { partitions: names, error: errorMessage(error) });
  }
}
