import type pg from 'pg';
import type { ArchiveStore } from '../../shared/archive/store';
import { createArchiveStore, isArchiveConfigured } from '../../shared/archive/store';
import { assertSchemaInstalled, countRows, currentDatabase, listPartitions, type PartitionInfo } from '../../shared/catalog';
import type { OperationContext } from '../../shared/context';
import { addDays, dayOf, dayStart } from '../../shared/days';
import { quoteIdent } from '../../shared/db/identifiers';
import { COMMIT_WITHOUT_FLUSH, runWithLockTimeout } from '../../shared/db/locks';
import { withAdvisoryLock, withClient } from '../../shared/db/sessions';
import { assertTimeForStep } from '../../shared/deadline';
import { InputError, PartialFailureError } from '../../shared/errors';
import { fillNames } from '../../shared/parse';
import { startProgress } from '../../shared/progress';
import { assertNoFailedSteps, runSteps } from '../../shared/step-runner';
import { isDefaultPartitionName, TIME_SERIES_TABLES, TRUNCATABLE_TABLES } from '../../shared/tables';
import { prunePlanProblems } from './checks';
import { dropGroup, dropStepName, executionSteps, keepUnlessArchived, markFailed, type PruneRun, type RowAction } from './prune-drops';

export interface PruneInput {
  /** Delete rows with ts older than now - N days. */
  olderThanDays?: number;
  /** Drop daily partitions whose upper bound is at or before 00:00 UTC of today - N days. */
  dropPartitionsOlderThanDays?: number;
  /** Empty markets and every data table; needs `confirm`. */
  truncate?: boolean;
  /** Must equal the database name for `truncate` to run. */
  confirm?: string;
  /** Plan and report, change nothing. */
  dryRun?: boolean;
}

/**
 * `stopped`: a delete the run's deadline interrupted between two batches; `rows` says how far it
 * got. `kept`: a partition not dropped because its archive is not verified (`kept_because`).
 */
type ActionStatus = 'planned' | 'done' | 'failed' | 'stopped' | 'kept';

/** One step of a prune, as planned and then as done. */
export type PruneAction = {
  status: ActionStatus;
  error?: string;
} & (
  | { action: 'delete_rows'; table: string; relation: string; before: string; rows: number | null }
  | { action: 'truncate_partition'; table: string; relation: string; rows: number; rows_exact: boolean }
  | {
      action: 'drop_partition';
      table: string;
      relation: string;
      from: string | null;
      to: string;
      rows: number;
      rows_exact: boolean;
      /** Why the partition was kept (status `kept`): its archive is missing, unreadable or behind. */
      kept_because?: string;
    }
  | {
      action: 'truncate_tables';
      tables: string[];
      rows: Record<string, number>;
      /** Per table: false when its count includes a catalog estimate (a partition above the exact-count size). */
      rows_exact: Record<string, boolean>;
    }
);

export interface PruneReport {
  operation: 'prune';
  database: string;
  dry_run: boolean;
  /** Rows older than this are deleted (`olderThanDays`). */
  delete_before: string | null;
  /** Partitions ending at or before this are dropped (`dropPartitionsOlderThanDays`). */
  drop_before: string | null;
  actions: PruneAction[];
  /** Rows removed per table (estimates for truncated or dropped partitions above the exact-count size). */
  rows_deleted: Record<string, number>;
  partitions_dropped: number;
  /**
   * Where the archive that every dropped partition must be verified in lives (`s3://bucket`,
   * `file://dir`); null: archiving is not configured, and partitions are dropped unverified.
   */
  archive: string | null;
  /** Partitions kept because their archive is not verified (drop_partition actions with status `kept`). */
  partitions_kept: number;
}

/**
 * A dry run's report: the same plan, its totals named as planned (nothing was deleted), and
 * without the DEFAULT partitions that have nothing to delete (a real run visits them anyway).
 */
export type PrunePlanReport = Omit<PruneReport, 'dry_run' | 'rows_deleted' | 'partitions_dropped'> & {
  dry_run: true;
  rows_planned: Record<string, number>;
  partitions_planned: number;
};

function asPlan({ rows_deleted, partitions_dropped, ...report }: PruneReport): PrunePlanReport {
  return {
    ...report,
    dry_run: true,
    actions: plannedActions(report.actions),
    rows_planned: rows_deleted,
    partitions_planned: partitions_dropped,
  };
}

/** The actions a dry run lists: a DEFAULT partition with nothing to delete is left out. */
export function plannedActions(actions: PruneAction[]): PruneAction[] {
  return actions.filter((a) => !(a.action === 'delete_rows' && isDefaultPartitionName(a.relation) && a.rows === 0));
}

/**
 * Retention. Rows first (whole old partitions truncated, the rest deleted in bounded batches
 * in ts order, see deleteOlderRows), then partitions dropped by their real catalog bounds; or a
 * confirmed truncate of every data table. With `dryRun` the plan is returned and nothing runs.
 */
export async function prune(ctx: OperationContext, input: PruneInput & { dryRun: true }): Promise<PrunePlanReport>;
export async function prune(ctx: OperationContext, input: PruneInput & { dryRun?: false }): Promise<PruneReport>;
export async function prune(ctx: OperationContext, input: PruneInput): Promise<PruneReport | PrunePlanReport>;
export async function prune(ctx: OperationContext, input: PruneInput): Promise<PruneReport | PrunePlanReport> {
  const problems = prunePlanProblems(input);
  if (problems.length > 0) throw new InputError(problems.map((problem) => fillNames(problem)));
  const now = ctx.now();
  // Only dropping partitions needs the archive; a bad archive setting is refused before anything runs.
  const store =
    input.dropPartitionsOlderThanDays !== undefined && isArchiveConfigured(ctx.archive) ? createArchiveStore(ctx.archive, 'prune') : null;

  return withClient(ctx.pool, async (client) => {
    await assertSchemaInstalled(client);
    const database = await currentDatabase(client);
    if (input.truncate && !input.dryRun && input.confirm !== database) {
      throw new InputError(
        `truncate empties markets and every data table of database "${database}": confirm with the database name (CLI: --yes or answer the prompt; Lambda: "confirm": "${database}")`,
      );
    }
    const deleteBefore = input.olderThanDays === undefined ? null : new Date(now.getTime() - input.olderThanDays * 86_400_000);
    const dropBefore =
      input.dropPartitionsOlderThanDays === undefined ? null : dayStart(addDays(dayOf(now), -input.dropPartitionsOlderThanDays));
    const report: PruneReport = {
      operation: 'prune',
      database,
      dry_run: Boolean(input.dryRun),
      delete_before: deleteBefore?.toISOString() ?? null,
      drop_before: dropBefore?.toISOString() ?? null,
      actions: [],
      rows_deleted: {},
      partitions_dropped: 0,
      archive: store?.location ?? null,
      partitions_kept: 0,
    };

    await withAdvisoryLock(client, 'prune', { wait: false }, async () => {
      report.actions = input.truncate
        ? [await planTruncate(client)]
        : await planRetention(client, deleteBefore, dropBefore, Boolean(input.dryRun));
      // A dry run checks every archive now; a real run checks each just before its drop (see executeActions).
      if (store && input.dryRun) {
        for (const action of report.actions) {
          // Each check reads the object and scans the day: stop, with the report so far, before the deadline.
          if (action.action === 'drop_partition')
            assertTimeForStep(ctx, `checking the archive of ${action.relation}`, () => withTotals(report));
          await keepUnlessArchived(client, store, action);
        }
      }
      if (!input.dryRun) await executeActions(ctx, client, report, store);
    });

    const done = withTotals(report);
    const failed = done.actions.filter((a) => a.status === 'failed');
    assertNoFailedSteps('prune', done, { failed, total: done.actions.length, noun: 'steps failed' });
    if (done.partitions_kept > 0 && !done.dry_run) throw keptError(done);
    return done.dry_run ? asPlan(done) : done;
  });
}

/**
 * Kept partitions fail the run (exit 1, the Failure metric, the function's alarm), with the
 * report: retention did not happen, and the storage it was to free stays in use until the day is
 * archived (or its archive put right). Everything else the run could do was done.
 */
function keptError(report: PruneReport): PartialFailureError {
  const kept = report.actions.filter((a) => a.status === 'kept');
  const first = kept[0];
  const why = first && 'kept_because' in first ? `${first.relation}: ${first.kept_because}` : '';
  return new PartialFailureError(
    `prune: kept ${kept.length} partition${kept.length > 1 ? 's' : ''} whose archive is not verified, first: ${why}`,
    { report },
  );
}

/**
 * Runs the planned actions in order, recording each one's outcome in it; drops go a group of a
 * table's partitions to a transaction (see dropGroup). A failed step does not stop the others,
 * except when the session died; the deadline stops the run between two steps.
 */
async function executeActions(
  ctx: OperationContext,
  client: pg.ClientBase,
  report: PruneReport,
  store: ArchiveStore | null,
): Promise<void> {
  const run: PruneRun = { ctx, client, store, reportSoFar: () => withTotals(report) };
  // Each partition's archive is checked right before its group's drop, not at planning: row
  // deletes before it may take minutes, and a row that came late in between would otherwise
  // be dropped unarchived.
  await runSteps(executionSteps(report.actions, ctx.settings.dropGroupSize), {
    operation: 'prune',
    ctx,
    client,
    reportSoFar: run.reportSoFar,
    name: (step) => (Array.isArray(step) ? dropStepName(step) : stepName(step)),
    async run(step) {
      if (Array.isArray(step)) return dropGroup(run, step);
      await execute(ctx, client, step, run.reportSoFar);
      step.status = 'done';
    },
    failed: (step, error) => markFailed(run, Array.isArray(step) ? step : [step], error),
  });
}

async function planTruncate(client: pg.ClientBase): Promise<PruneAction> {
  const rows: Record<string, number> = {};
  const exact: Record<string, boolean> = {};
  for (const table of TRUNCATABLE_TABLES) ({ rows: rows[table], exact: exact[table] } = await countTableRows(client, table));
  return { action: 'truncate_tables', status: 'planned', tables: [...TRUNCATABLE_TABLES], rows, rows_exact: exact };
}

async function countTableRows(client: pg.ClientBase, table: string): Promise<{ rows: number; exact: boolean }> {
  const partitions = await listPartitions(client, table);
  const counts = [...(await countRows(client, partitions.length > 0 ? partitions.map((p) => p.name) : [table])).values()];
  return { rows: counts.reduce((total, count) => total + count.rows, 0), exact: counts.every((count) => count.exact) };
}

/**
 * Cost of planning: catalog reads per partition; with `dryRun`, an exact count of the rows to
 * delete in the partitions that straddle the cutoff (at most one day each) and the default.
 */
async function planRetention(
  client: pg.ClientBase,
  deleteBefore: Date | null,
  dropBefore: Date | null,
  dryRun: boolean,
): Promise<PruneAction[]> {
  const rowActions: PruneAction[] = [];
  const dropActions: PruneAction[] = [];
  for (const table of TIME_SERIES_TABLES) {
    const partitions = await listPartitions(client, table);
    const dropped = (p: PartitionInfo) => dropBefore !== null && !p.isDefault && p.to !== null && p.to <= dropBefore;
    const olderThanCutoff = (p: PartitionInfo) => deleteBefore !== null && !p.isDefault && p.to !== null && p.to <= deleteBefore;
    // One catalog query for every partition that is dropped or truncated whole.
    const counts = await countRows(
      client,
      partitions.filter((p) => dropped(p) || olderThanCutoff(p)).map((p) => p.name),
    );
    for (const p of partitions) {
      const count = counts.get(p.name);
      if (dropped(p) && p.to && count) {
        dropActions.push({
          action: 'drop_partition',
          status: 'planned',
          table,
          relation: p.name,
          from: p.from?.toISOString() ?? null,
          to: p.to.toISOString(),
          rows: count.rows,
          rows_exact: count.exact,
        });
        continue; // its rows go with it: no point truncating first
      }
      if (deleteBefore === null) continue;
      if (olderThanCutoff(p) && count) {
        if (count.exact && count.rows === 0) continue;
        rowActions.push({
          action: 'truncate_partition',
          status: 'planned',
          table,
          relation: p.name,
          rows: count.rows,
          rows_exact: count.exact,
        });
      } else if (p.isDefault || p.from === null || p.from < deleteBefore) {
        // Listed even when a dry run counts 0 rows, so a dry run shows exactly the real run's steps.
        const rows = dryRun ? await countOlder(client, p.name, deleteBefore) : null;
        rowActions.push({ action: 'delete_rows', status: 'planned', table, relation: p.name, before: deleteBefore.toISOString(), rows });
      }
    }
  }
  if (deleteBefore !== null) {
    const rows = dryRun ? await countOlder(client, 'ingest_events', deleteBefore) : null;
    rowActions.push({
      action: 'delete_rows',
      status: 'planned',
      table: 'ingest_events',
      relation: 'ingest_events',
      before: deleteBefore.toISOString(),
      rows,
    });
  }
  return [...rowActions, ...dropActions];
}

async function countOlder(client: pg.ClientBase, relation: string, before: Date): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(relation)} WHERE ts < $1`, [before]);
  return Number(rows[0]?.n ?? 0);
}

/** The step an action is, in the words of a deadline message ("drop partition trades_2026_01_01"). */
function stepName(action: PruneAction): string {
  return action.action === 'truncate_tables' ? 'truncating the data tables' : `${action.action.replace('_', ' ')} ${action.relation}`;
}

async function execute(ctx: OperationContext, client: pg.ClientBase, action: RowAction, reportSoFar: () => PruneReport): Promise<void> {
  switch (action.action) {
    case 'truncate_partition':
      await runWithLockTimeout(client, `truncate ${action.relation}`, ctx.settings, ctx.log, () =>
        client.query(`TRUNCATE ${quoteIdent(action.relation)}`),
      );
      return;
    case 'truncate_tables':
      await runWithLockTimeout(client, 'truncate tables', ctx.settings, ctx.log, () =>
        client.query(`TRUNCATE ${action.tables.map(quoteIdent).join(', ')}`),
      );
      return;
    case 'delete_rows': {
      // Each batch is a step of its own: a deadline stops the delete between two batches.
      const progress = startProgress(ctx.progress, { task: 'prune', table: action.table, unit: 'rows' });
      const beforeBatch = (deleted: number) => {
        progress.advance(deleted);
        assertTimeForStep(ctx, `the next batch of ${stepName(action)}`, () => {
          action.rows = deleted;
          action.status = 'stopped';
          return reportSoFar();
        });
      };
      action.rows = await deleteOlderRows(ctx, client, action.relation, new Date(action.before), beforeBatch);
      progress.finish(action.rows, 'deleted');
      return;
    }
  }
}

/**
 * Deletes rows older than `before` in batches of about `batchSize`, each its own statement and
 * transaction, so no lock is held long. Batches follow `ts`, which is the physical order of
 * ingested rows: each batch reads only the pages of its rows, so the whole delete costs about
 * one pass over the deleted rows' pages. Not per symbol: a symbol's rows are spread over every
 * page, so each such batch would touch the whole partition (docs/performance.md).
 */
async function deleteOlderRows(
  ctx: OperationContext,
  client: pg.ClientBase,
  relation: string,
  before: Date,
  beforeBatch: (deletedSoFar: number) => void,
): Promise<number> {
  const deletion: RowDeletion = { ctx, client, relation, before, beforeBatch, deleted: 0 };
  if (relation === 'ingest_events' || isDefaultPartitionName(relation)) return deleteOldestFirst(deletion);
  const start = await oldestRowsByExchange(client, relation, before);
  return start ? deleteByTimeWindows(deletion, start) : deleteOldestFirst(deletion);
}

/** A delete in progress: where, up to when, and how many rows are gone so far. */
interface RowDeletion {
  ctx: OperationContext;
  client: pg.ClientBase;
  relation: string;
  before: Date;
  /** Called before each batch: the deadline check, which may end the run there. */
  beforeBatch: (deletedSoFar: number) => void;
  deleted: number;
}

/**
 * One batch: one DELETE under lock_timeout; returns the rows it deleted. With `cap`, a DELETE
 * that took more rows than that is rolled back and null returned: the caller takes less.
 */
async function deleteBatch(deletion: RowDeletion, sql: string, params: unknown[], cap?: number): Promise<number | null> {
  const { ctx, client, relation } = deletion;
  deletion.beforeBatch(deletion.deleted);
  const overCap = new Error(`more than ${cap} rows`);
  const rows = await runWithLockTimeout(client, `delete from ${relation}`, ctx.settings, ctx.log, async () => {
    // No wait for the commit to reach the disk: a batch a server crash forgets is deleted again
    // by the next run, and a crash cannot split a batch.
    await client.query(COMMIT_WITHOUT_FLUSH);
    const deleted = (await client.query(sql, params)).rowCount ?? 0;
    if (cap !== undefined && deleted > cap) throw overCap;
    return deleted;
  }).catch((error: unknown) => (error === overCap ? null : Promise.reject(error)));
  if (rows === null) return null;
  deletion.deleted += rows;
  return rows;
}

/** The oldest `batchSize` rows each time, through a plain ts index where there is one. */
async function deleteOldestFirst(deletion: RowDeletion): Promise<number> {
  const rel = quoteIdent(deletion.relation);
  const batch = deletion.ctx.settings.batchSize;
  for (;;) {
    const rows = await deleteBatch(
      deletion,
      `DELETE FROM ${rel} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${rel} WHERE ts < $1 ORDER BY ts LIMIT $2))`,
      [deletion.before, batch],
    );
    if (rows === null || rows < batch) return deletion.deleted;
  }
}

/** Where a day partition's old rows start: every exchange id, and the oldest ts before the cutoff. */
interface ExchangeStart {
  exchangeIds: number[];
  /** Null: no row is older than the cutoff. */
  first: Date | null;
}

/**
 * One descent of the (exchange_id, ts) index per exchange (every row references one of the few
 * exchanges). Undefined when the oldest ts is -infinity, which node-postgres returns as a number
 * and only a partition made by hand can hold: such a relation is deleted oldest first.
 */
async function oldestRowsByExchange(client: pg.ClientBase, relation: string, before: Date): Promise<ExchangeStart | undefined> {
  const { rows } = await client.query<{ ids: number[]; first: Date | number | null }>(
    `SELECT array_agg(e.id) AS ids, min(f.ts) AS first FROM exchanges e
       LEFT JOIN LATERAL (SELECT ts FROM ${quoteIdent(relation)} WHERE exchange_id = e.id AND ts < $1 ORDER BY ts LIMIT 1) f ON true`,
    [before],
  );
  const first = rows[0]?.first ?? null;
  if (first !== null && !(first instanceof Date)) return undefined;
  return { exchangeIds: rows[0]?.ids ?? [], first };
}

/**
 * Day partitions: windows of ts through the (exchange_id, ts) index, each deleted by one plain
 * DELETE: a bitmap scan reads the window's pages once, in physical order, as one plain DELETE of
 * every old row does. (A list of ctids capped with LIMIT read every row twice; with its shrunk
 * retries it took 2.4x the plain DELETE.) Each window is sized from the rows the last one held,
 * aiming at 80% of `batchSize`; one that holds more than `batchSize` (the row rate jumped) is
 * rolled back and taken again smaller, so no committed batch exceeds it. A 1 ms window still over
 * it (rows sharing one timestamp) is taken `batchSize` ctids at a time.
 */
async function deleteByTimeWindows(deletion: RowDeletion, start: ExchangeStart): Promise<number> {
  const rel = quoteIdent(deletion.relation);
  const batch = deletion.ctx.settings.batchSize;
  const end = deletion.before.getTime();
  let from = start.first?.getTime() ?? end;
  // Start small (the row count is unknown); the windows adapt within a few batches.
  let window = Math.max(1, (end - from) / 64);
  while (from < end) {
    const to = Math.min(end, from + window);
    const range = [start.exchangeIds, new Date(from), new Date(to)];
    const rows =
      window > 1
        ? await deleteBatch(deletion, `DELETE FROM ${rel} WHERE exchange_id = ANY ($1) AND ts >= $2 AND ts < $3`, range, batch)
        : await deleteBatch(
            deletion,
            `DELETE FROM ${rel} WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM ${rel} WHERE exchange_id = ANY ($1) AND ts >= $2 AND ts < $3 LIMIT $4))`,
            [...range, batch],
          );
    if (rows === null) {
      window = Math.max(1, window / 4);
      continue;
    }
    // A full batch of tied rows: the same 1 ms window again.
    if (window <= 1 && rows >= batch) continue;
    from = to;
    window = nextWindow(window, rows, 0.8 * batch);
  }
  return deletion.deleted;
}

/** Aims the next window at `aim` rows from what the last one held; grows at most 4x over an empty or sparse stretch. */
function nextWindow(window: number, rows: number, aim: number): number {
  return rows === 0 ? window * 4 : Math.max(1, window * Math.min(4, aim / rows));
}

/** The report with its totals (rows deleted, partitions dropped) counted from its actions. */
function withTotals(report: PruneReport): PruneReport {
  const rowsDeleted: Record<string, number> = {};
  let partitionsDropped = 0;
  let partitionsKept = 0;
  for (const action of report.actions) {
    if (action.status === 'kept') partitionsKept++;
    const counts = action.status === 'done' || action.status === 'stopped' || (report.dry_run && action.status === 'planned');
    if (!counts) continue;
    if (action.action === 'truncate_tables') {
      for (const [table, n] of Object.entries(action.rows)) rowsDeleted[table] = (rowsDeleted[table] ?? 0) + n;
      continue;
    }
    rowsDeleted[action.table] = (rowsDeleted[action.table] ?? 0) + (action.rows ?? 0);
    if (action.action === 'drop_partition') partitionsDropped++;
  }
  return { ...report, rows_deleted: rowsDeleted, partitions_dropped: partitionsDropped, partitions_kept: partitionsKept };
}
