import type pg from 'pg';
import type { ArchiveStore } from './archive/layout';
import { errorMessage, type OperationContext } from './context';
import { quoteIdent } from './db/identifiers';
import { runWithLockTimeout } from './db/lock-timeout';
import { connectionLostError } from './db/sessions';
import { isConnectionFailure } from './db/sql-errors';
import { assertTimeForStep } from './deadline';
import type { PruneAction, PruneReport } from './prune';
import { checkArchive } from './prune-archive';

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
 * many relations it drops (after releasing its locks: it costs prune's time, not ingestion's):
 * with shared_buffers=2GB dropping a partition alone cost ~16 ms, ~3-6 ms in a group of 8. The
 * group's transaction holds the parent ACCESS EXCLUSIVE from its DROP, ~1.5 ms per partition,
 * until its commit is flushed (a transaction that deletes files always waits for its WAL flush,
 * whatever synchronous_commit says); the group size (`dropGroupSize`, see DROP_GROUP_SIZE) bounds that.
 *
 * The deadline is checked before the group. With archiving configured, each partition's archive
 * is checked right before the group's transaction, and in it, right before the DROP, each is
 * probed for rows that came since its check: only verified, unchanged partitions are dropped.
 * The group's outcome is each of its actions' outcome: a failed drop (its lock not granted in
 * time) marks each failed and the next group runs; a lost session ends the run.
 */
export async function dropGroup(run: PruneRun, group: DropAction[]): Promise<void> {
  assertTimeForStep(run.ctx, dropStepName(group), run.reportSoFar);
  const due = await verifyGroup(run, group);
  if (due.size === 0) return;
  const candidates = [...due.keys()];
  let dropped: DropAction[];
  try {
    dropped = await runWithLockTimeout(
      run.client,
      `drop ${candidates.map((a) => a.relation).join(', ')}`,
      run.ctx.settings,
      run.ctx.log,
      async () => {
        const unchanged = run.store ? await keepChangedSinceCheck(run.client, due) : candidates;
        // Plain DROP takes ACCESS EXCLUSIVE on the parent; DETACH CONCURRENTLY is refused while a
        // DEFAULT partition exists. lock_timeout bounds how long inserts can wait for it.
        const names = unchanged.map((action) => action.relation);
        if (names.length > 0) await run.client.query(`DROP TABLE ${names.map(quoteIdent).join(', ')}`);
        return unchanged;
      },
    );
  } catch (error) {
    recordFailure(
      run,
      candidates.filter((action) => action.status !== 'kept'),
      error,
    );
    return;
  }
  for (const action of dropped) {
    action.status = 'done';
    run.ctx.progress?.(`dropped ${action.relation}`);
  }
}

/**
 * The group's partitions that may be dropped, each with the newest row its archive check counted
 * (UNCHECKED without archiving); the others are marked kept, or failed when the check failed.
 */
async function verifyGroup(run: PruneRun, group: DropAction[]): Promise<Map<DropAction, NewestRow>> {
  const due = new Map<DropAction, NewestRow>();
  for (const action of group) {
    if (!run.store) {
      due.set(action, UNCHECKED);
      continue;
    }
    try {
      const verified = await verifiedNewestRow(run.client, run.store, action);
      if (verified) due.set(action, verified.newestId);
    } catch (error) {
      recordFailure(run, [action], error);
    }
  }
  return due;
}

/** The newest row id a partition's archive check counted (null: it held no row); UNCHECKED without archiving. */
type NewestRow = string | null | typeof UNCHECKED;
const UNCHECKED: unique symbol = Symbol('unchecked');

/**
 * The partitions whose newest row is still the one their archive check counted; the others are
 * marked kept: a row came after the check (the next run checks the day again). In the group's
 * transaction, right before its DROP, so a late row cannot slip in between a check and the drop
 * while the rest of the group is checked. Cost: one descent of the (id, ts) primary key per
 * partition, under ACCESS SHARE; ids come from one sequence, so a later row has a higher id.
 */
async function keepChangedSinceCheck(client: pg.ClientBase, due: Map<DropAction, NewestRow>): Promise<DropAction[]> {
  // A retry of the transaction (its lock not granted in time) probes only those not kept already.
  const actions = [...due.keys()].filter((action) => action.status !== 'kept');
  const probes = actions.map((action) => `(SELECT max(id)::text FROM ${quoteIdent(action.relation)})`);
  const { rows } = await client.query<{ newest: Array<string | null> }>(`SELECT ARRAY[${probes.join(', ')}]::text[] AS newest`);
  return actions.filter((action, i) => {
    const now = rows[0]?.newest[i] ?? null;
    if (now === due.get(action)) return true;
    action.status = 'kept';
    action.kept_because = `rows came into ${action.relation} after its archive was checked (newest id ${now}); the next archive run archives the day again`;
    return false;
  });
}

/**
 * With archiving configured, the newest row id of a partition whose archive is verified (see
 * checkArchive), or undefined when it is kept, marked with the reason.
 */
async function verifiedNewestRow(
  client: pg.ClientBase,
  store: ArchiveStore,
  action: DropAction,
): Promise<{ newestId: string | null } | undefined> {
  const check = await checkArchive(client, store, action);
  if ('newestId' in check) return check;
  action.status = 'kept';
  action.kept_because = check.keep;
  return undefined;
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
 * checkArchive) and marked kept, with the reason, unless the archive is verified: what a dry run
 * shows.
 */
export async function keepUnlessArchived(client: pg.ClientBase, store: ArchiveStore, action: PruneAction): Promise<void> {
  if (action.action === 'drop_partition') await verifiedNewestRow(client, store, action);
}

/** A group's step in the words of a deadline message ("drop partitions trades_2026_01_01 .. trades_2026_01_08"). */
function dropStepName(group: DropAction[]): string {
  const first = group[0]?.relation;
  const last = group.at(-1)?.relation;
  return group.length === 1 ? `drop partition ${first}` : `drop partitions ${first} .. ${last}`;
}
