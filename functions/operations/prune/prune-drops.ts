import pg from 'pg';
import { type LedgerEntry, markDropped as markLedgerDropped } from '../../shared/archive/ledger';
import type { ArchiveStore } from '../../shared/archive/store';
import { foreignKeyStates, IN_PROGRESS_COMMENT, listColumns, listForeignKeys, listPartitions } from '../../shared/catalog';
import { errorMessage, type OperationContext } from '../../shared/context';
import { attachDayTable, buildIndexes, type DayTable, prepareDayTable, validateForeignKeys } from '../../shared/day-partition';
import { quoteIdent } from '../../shared/db/identifiers';
import { runWithLockTimeout } from '../../shared/db/locks';
import { assertTimeForStep } from '../../shared/deadline';
import { DeadlineError } from '../../shared/errors';
import { throwIfSessionLost } from '../../shared/step-runner';
import type { PruneAction, PruneReport } from './prune';
import { checkArchive, proveRows } from './prune-archive';

/** A `drop_partition` step of a prune. */
export type DropAction = Extract<PruneAction, { action: 'drop_partition' }>;
/** Every other step: deletes and truncates, each its own step. */
export type RowAction = Exclude<PruneAction, DropAction>;

/** What a step of a running prune needs: where it runs, the archive to check, and the report so far. */
export interface PruneRun {
  ctx: OperationContext;
  client: pg.ClientBase;
  store: ArchiveStore | null;
  reportSoFar: () => PruneReport;
}

/**
 * The actions in the order they run, each alone, but consecutive drops of one table taken
 * `groupSize` at a time: one transaction drops a group (see dropGroup).
 */
export function executionSteps(actions: PruneAction[], groupSize: number): Array<RowAction | DropAction[]> {
  const steps: Array<RowAction | DropAction[]> = [];
  for (const action of actions) {
    if (action.action !== 'drop_partition') {
      steps.push(action);
      continue;
    }
    const last = steps.at(-1);
    const joins = Array.isArray(last) && last.length < groupSize && last[0]?.table === action.table;
    if (joins) last.push(action);
    else steps.push([action]);
  }
  return steps;
}

/**
 * Drops one group of a table's partitions. Without archiving: one transaction, `DROP TABLE a, b,
 * c`. Each DROP's commit scans the whole buffer pool for the dropped files' pages, once per
 * transaction however many relations it drops (after releasing its locks: it costs prune's time,
 * not ingestion's): with shared_buffers=2GB dropping a partition alone cost ~16 ms, ~3-6 ms in a
 * group of 8. The group's transaction holds the parent ACCESS EXCLUSIVE from its DROP, ~1.5 ms
 * per partition, until its commit is flushed (a transaction that deletes files always waits for
 * its WAL flush, whatever synchronous_commit says); the group size (`dropGroupSize`, see
 * DROP_GROUP_SIZE) bounds that.
 *
 * With archiving configured (see dropProven), each partition's archive is checked right before
 * the group (checkArchive); the verified ones are detached in one short transaction, proven to
 * hold exactly the archived rows, and dropped, or attached again.
 *
 * The step runner checks the deadline before the group. The group's outcome is each of its
 * actions' outcome: a failed drop (its lock not granted in time) marks each failed and the next
 * group runs; a lost session ends the run.
 */
export async function dropGroup(run: PruneRun, group: DropAction[]): Promise<void> {
  if (run.store) {
    await dropProven(run, await verifyGroup(run, run.store, group));
    return;
  }
  const names = group.map((action) => action.relation);
  await runWithLockTimeout(run.client, `drop ${names.join(', ')}`, run.ctx.settings, run.ctx.log, () =>
    // Plain DROP takes ACCESS EXCLUSIVE on the parent; DETACH CONCURRENTLY is refused while a
    // DEFAULT partition exists. lock_timeout bounds how long inserts can wait for it.
    run.client.query(`DROP TABLE ${names.map(quoteIdent).join(', ')}`),
  );
  for (const action of group) action.status = 'done';
}

/**
 * Drops the partitions whose archive was verified, once their rows are proven to be the archived
 * ones. Counting before the drop is not proof (one late row in, one archived row out), and a
 * checksum scan cannot run under a lock that holds inserts back, so the partitions first leave
 * their parent: one short transaction DETACHes them (ACCESS EXCLUSIVE on the parent for a catalog
 * change, like the DROP it replaces) and marks each with IN_PROGRESS_COMMENT. From then on no row
 * can reach them: a late row of such a day goes to the DEFAULT partition, where it waits like any
 * row of a day without a partition. Each detached table is then proven (proveRows: one scan,
 * holding SHARE on that table alone, which no insert into the parent touches) and dropped in the
 * same transaction, so nothing can change between the proof and the DROP. A table that fails
 * the proof (rows changed after the check) is attached again with the partitions run's own steps
 * (day-partition.ts), which add its foreign keys again (validated without holding inserts) and
 * move in the day's rows that reached the DEFAULT partition meanwhile;
 * if prune dies before that, the comment makes the next `partitions` run attach it. The rows of
 * a detached day are out of sight of queries on the parent for the length of its proof.
 */
async function dropProven(run: PruneRun, due: Map<DropAction, LedgerEntry>): Promise<void> {
  if (due.size === 0) return;
  const actions = [...due.keys()];
  const parent = actions[0]?.table ?? '';
  try {
    const statements: string[] = [];
    for (const action of actions) {
      const foreignKeys = [...(await foreignKeyStates(run.client, action.relation)).keys()];
      statements.push(
        `ALTER TABLE ${quoteIdent(parent)} DETACH PARTITION ${quoteIdent(action.relation)}`,
        `COMMENT ON TABLE ${quoteIdent(action.relation)} IS ${pg.escapeLiteral(IN_PROGRESS_COMMENT)}`,
        // DETACH gives the table foreign keys of its own, with triggers on exchanges and markets
        // that its DROP would remove holding those tables (every insert's key check) ACCESS
        // EXCLUSIVE: removed here, in one transaction per group that holds them anyway.
        ...foreignKeys.map((fk) => `ALTER TABLE ${quoteIdent(action.relation)} DROP CONSTRAINT ${quoteIdent(fk)}`),
      );
    }
    await runWithLockTimeout(run.client, `detach ${actions.map((a) => a.relation).join(', ')}`, run.ctx.settings, run.ctx.log, () =>
      run.client.query(statements.join(';\n')),
    );
  } catch (error) {
    recordFailure(run, actions, error);
    return;
  }
  const detached = [...due];
  for (const [index, [action, ledger]] of detached.entries()) {
    const step = `prove and drop ${action.relation}`;
    if (isDeadlineNear(run, step)) {
      // Each proof is a scan of a day: the tables not proven yet go back to their parent first.
      for (const [waiting, entry] of detached.slice(index)) {
        keep(waiting, `not proven before the Lambda deadline; attached again, the next prune checks it`);
        await attachAgain(run, waiting, entry.day);
      }
      assertTimeForStep(run.ctx, step, run.reportSoFar);
    }
    let changed: string | undefined;
    try {
      changed = await runWithLockTimeout(run.client, `prove and drop ${action.relation}`, run.ctx.settings, run.ctx.log, async () => {
        await run.client.query(`LOCK TABLE ${quoteIdent(action.relation)} IN SHARE MODE`);
        const why = await proveRows(run.client, action.relation, ledger);
        if (why === undefined) {
          await run.client.query(`DROP TABLE ${quoteIdent(action.relation)}`);
          await markLedgerDropped(run.client, ledger.table_name, ledger.day);
        }
        return why;
      });
    } catch (error) {
      await attachAgain(run, action, ledger.day, error);
      continue;
    }
    if (changed === undefined) {
      action.status = 'done';
      continue;
    }
    action.status = 'kept';
    action.kept_because = changed;
    await attachAgain(run, action, ledger.day);
  }
}

/**
 * Attaches a detached day table again (it holds rows that are not the archive's, or its proof
 * failed), as the partitions run adopts a table it left: the bounds CHECK (a scan of that table
 * alone), its indexes (kept by DETACH: nothing to build), its foreign keys (dropped at the
 * detach: added NOT VALID and validated, a scan of that table alone), then the attach
 * transaction that moves in the day's rows from the DEFAULT partition. `failure`: why the proof
 * failed, recorded on the action. If the attach fails too, the table keeps its comment and the
 * next `partitions` run attaches it.
 */
async function attachAgain(run: PruneRun, action: DropAction, day: string, failure?: unknown): Promise<void> {
  const { ctx, client } = run;
  try {
    const partitions = await listPartitions(client, action.table);
    const plan: DayTable = {
      table: action.table,
      day,
      name: action.relation,
      defaultPartition: partitions.find((p) => p.isDefault)?.name,
      columns: await listColumns(client, action.table),
      foreignKeys: await listForeignKeys(client, action.table),
    };
    await prepareDayTable(ctx, client, plan, 'ours');
    await buildIndexes(ctx, client, plan);
    await validateForeignKeys(ctx, client, plan);
    await attachDayTable(ctx, client, plan);
  } catch (error) {
    const reason = failure === undefined ? '' : `${errorMessage(failure)}; `;
    recordFailure(
      run,
      [action],
      new Error(`${reason}attaching ${action.relation} again failed (${errorMessage(error)}): the next partitions run attaches it`, {
        cause: error,
      }),
    );
    return;
  }
  if (failure !== undefined) recordFailure(run, [action], failure);
}

function isDeadlineNear(run: PruneRun, step: string): boolean {
  try {
    assertTimeForStep(run.ctx, step, run.reportSoFar);
    return false;
  } catch (error) {
    if (error instanceof DeadlineError) return true;
    throw error;
  }
}

/**
 * The group's partitions whose archive is verified (checkArchive), each with its ledger row; the
 * others are marked kept, or failed when the check failed.
 */
async function verifyGroup(
  run: PruneRun,
  store: ArchiveStore,
  group: DropAction[],
): Promise<Map<DropAction, LedgerEntry & { day: string }>> {
  const due = new Map<DropAction, LedgerEntry & { day: string }>();
  for (const action of group) {
    try {
      const check = await checkArchive(run.client, store, action);
      if ('ledger' in check) due.set(action, check.ledger);
      else keep(action, check.keep);
    } catch (error) {
      recordFailure(run, [action], error);
    }
  }
  return due;
}

function keep(action: DropAction, why: string): void {
  action.status = 'kept';
  action.kept_because = why;
}

/**
 * Marks `actions` failed with the error, which the run reports at its end; the other steps still
 * run, except when the session died: they cannot run on a dead session, so the run ends here.
 */
export function recordFailure(run: PruneRun, actions: PruneAction[], error: unknown): void {
  markFailed(run, actions, error);
  throwIfSessionLost({ operation: 'prune', ...run }, error);
}

/** Marks `actions` failed with the error, in the report and the log. */
export function markFailed(run: PruneRun, actions: PruneAction[], error: unknown): void {
  for (const action of actions) {
    action.status = 'failed';
    action.error = errorMessage(error);
    run.ctx.log.info('prune step failed', { action: action.action, error: action.error });
  }
}

/**
 * With archiving configured, a partition the plan would drop is checked against its archive (see
 * checkArchive) and its rows against the archived ones (proveRows, on the attached partition:
 * nothing is detached), and marked kept, with the reason, unless both hold: what a dry run shows.
 */
export async function keepUnlessArchived(client: pg.ClientBase, store: ArchiveStore, action: PruneAction): Promise<void> {
  if (action.action !== 'drop_partition') return;
  const check = await checkArchive(client, store, action);
  if (!('ledger' in check)) return keep(action, check.keep);
  const changed = await proveRows(client, action.relation, check.ledger);
  if (changed !== undefined) keep(action, changed);
}

/** A group's step in the words of a deadline message ("drop partitions trades_2026_01_01 .. trades_2026_01_08"). */
export function dropStepName(group: DropAction[]): string {
  const first = group[0]?.relation;
  const last = group.at(-1)?.relation;
  return group.length === 1 ? `drop partition ${first}` : `drop partitions ${first} .. ${last}`;
}
