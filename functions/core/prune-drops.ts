import type pg from 'pg';
import type { ArchiveStore } from './archive/layout';
import { errorMessage, type OperationContext } from './context';
import { quoteIdent } from './db/identifiers';
import { runWithLockTimeout } from './db/lock-timeout';
import { connectionLostError } from './db/sessions';
import { isConnectionFailure } from './db/sql-errors';
import { assertTimeForStep } from './deadline';
import type { PruneAction, PruneReport } from './prune';
import { archiveKeepReason } from './prune-archive';

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
 * Drops one group of a table's partitions in one transaction, `DROP TABLE a, b, c`. Each DROP's
 * commit scans the whole buffer pool for the dropped files' pages, once per transaction however
 * many relations it drops: with shared_buffers=2GB that scan is ~9 ms, 13-16 ms per partition
 * dropped alone, against 3-4 ms each in groups of 8 (docs/performance.md). The group's
 * transaction holds the parent ACCESS EXCLUSIVE from its DROP to its commit: the scan plus ~2 ms
 * per partition, which the group size bounds.
 *
 * The deadline is checked before the group; with archiving configured, each partition's archive
 * is checked right before the group's drop (a row that came late keeps its day: see
 * keepUnlessArchived), and only the verified ones are dropped. The group's outcome is each of its
 * actions' outcome: a failed drop (its lock not granted in time) marks each failed, and the next
 * group runs; a lost session ends the run.
 */
export async function dropGroup(run: PruneRun, group: DropAction[]): Promise<void> {
  assertTimeForStep(run.ctx, dropStepName(group), run.reportSoFar);
  const due: DropAction[] = [];
  for (const action of group) {
    try {
      if (!(run.store && (await keepUnlessArchived(run.client, run.store, action)))) due.push(action);
    } catch (error) {
      recordFailure(run, [action], error);
    }
  }
  if (due.length === 0) return;
  const names = due.map((action) => action.relation);
  try {
    // Plain DROP takes ACCESS EXCLUSIVE on the parent; DETACH CONCURRENTLY is refused while a
    // DEFAULT partition exists. lock_timeout bounds how long inserts can wait for it.
    await runWithLockTimeout(run.client, `drop ${names.join(', ')}`, run.ctx.settings, run.ctx.log, () =>
      run.client.query(`DROP TABLE ${names.map(quoteIdent).join(', ')}`),
    );
  } catch (error) {
    recordFailure(run, due, error);
    return;
  }
  for (const action of due) {
    action.status = 'done';
    run.ctx.progress?.(`dropped ${action.relation}`);
  }
}

/**
 * Marks `actions` failed with the error, which the run reports at its end; the other steps still
 * run, except when the session died: they cannot run on a dead session, so the run ends here.
 */
export function recordFailure(run: PruneRun, actions: PruneAction[], error: unknown): void {
  for (const action of actions) {
    action.status = 'failed';
    action.error = errorMessage(error);
    run.ctx.log.info('prune step failed', { action: action.action, error: action.error });
  }
  if (isConnectionFailure(error)) throw connectionLostError('prune', run.client, error, run.reportSoFar());
}

/**
 * With archiving configured, a partition the plan would drop is checked against its archive (see
 * archiveKeepReason) and marked kept, with the reason, unless the archive is verified. Returns
 * whether it was kept.
 */
export async function keepUnlessArchived(client: pg.ClientBase, store: ArchiveStore, action: PruneAction): Promise<boolean> {
  if (action.action !== 'drop_partition') return false;
  const reason = await archiveKeepReason(client, store, action);
  if (reason === null) return false;
  action.status = 'kept';
  action.kept_because = reason;
  return true;
}

/** A group's step in the words of a deadline message ("drop partitions trades_2026_01_01 .. trades_2026_01_08"). */
function dropStepName(group: DropAction[]): string {
  const first = group[0]?.relation;
  const last = group.at(-1)?.relation;
  return group.length === 1 ? `drop partition ${first}` : `drop partitions ${first} .. ${last}`;
}
