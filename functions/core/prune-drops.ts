import pg from 'pg';
import type { ArchiveStore } from './archive/layout';
import { COMMIT_WITHOUT_FLUSH, referencedTables } from './blocking-locks';
import { type ForeignKey, listForeignKeys } from './catalog';
import { errorMessage, type OperationContext } from './context';
import { quoteIdent } from './db/identifiers';
import { runWithLockTimeout } from './db/lock-timeout';
import { connectionLostError } from './db/sessions';
import { isConnectionFailure } from './db/sql-errors';
import { assertTimeForStep } from './deadline';
import { dropStandaloneTables } from './default-backlog';
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
 * Comment on a partition prune detached and has not dropped yet: the next prune drops it. Its
 * second line keeps the bounds it had (`from <ISO ts or none> to <ISO ts>`), for the report.
 */
export const DETACHED_BY_PRUNE_COMMENT = 'perps-stats-db: partition detached by prune; dropped by the next prune run';

/**
 * Drops one group of a table's partitions, in three transactions, none waiting for the WAL flush
 * while it holds a lock that inserts wait for:
 * 1. DETACH each, marked with DETACHED_BY_PRUNE_COMMENT: ACCESS EXCLUSIVE on the parent and its
 *    DEFAULT partition, ~1-2 ms per partition, released at a commit that does not wait for the
 *    flush (catalog only: a crash forgets it whole, and the partitions are still attached). The
 *    referenced tables are locked first (SHARE ROW EXCLUSIVE, which DETACH takes for the foreign
 *    keys the partitions keep, and inserts' foreign-key checks do not conflict with), so a
 *    transaction inserting a market and then its rows cannot deadlock with it.
 * 2. and 3. their foreign keys, then one `DROP TABLE a, b, c`, which locks only them (see
 *    dropStandaloneTables). A DROP's commit always waits for its flush; a DROP of the attached
 *    partitions held the parent through it (85 ms after a recovery's writes, in the 1e8 run).
 * A run stopped between them leaves marked tables, out of sight of the parent: the next prune's
 * plan lists them again (see listDetachedByPrune) and drops them.
 *
 * Each DROP's commit scans the whole buffer pool for the dropped files' pages, once per
 * transaction however many relations it drops (after releasing its locks: it costs prune's time,
 * not ingestion's): with shared_buffers=2GB dropping a partition alone cost ~16 ms, ~3-6 ms in a
 * group of 8 (`dropGroupSize`, see DROP_GROUP_SIZE).
 *
 * The deadline is checked before the group. With archiving configured, each partition's archive
 * is checked right before the group's detach, and in its transaction, right before the DETACH,
 * each is probed for rows that came since its check: only verified, unchanged partitions are
 * dropped. The group's outcome is each of its actions' outcome: a failed step (its lock not
 * granted in time) marks each failed and the next group runs; a lost session ends the run.
 */
export async function dropGroup(run: PruneRun, group: DropAction[]): Promise<void> {
  assertTimeForStep(run.ctx, dropStepName(group), run.reportSoFar);
  const due = await verifyGroup(run, group);
  if (due.size === 0) return;
  const candidates = [...due.keys()];
  const table = candidates[0]?.table as string;
  try {
    const foreignKeys = await listForeignKeys(run.client, table);
    const detached = await detachGroup(run, due, foreignKeys);
    if (detached.length > 0)
      await dropStandaloneTables(
        run.ctx,
        run.client,
        detached.map((action) => action.relation),
        foreignKeys,
      );
    for (const action of detached) {
      action.status = 'done';
      run.ctx.progress?.(`dropped ${action.relation}`);
    }
  } catch (error) {
    recordFailure(
      run,
      candidates.filter((action) => action.status !== 'kept'),
      error,
    );
  }
}

/**
 * Step 1 of dropGroup: detaches and marks the group's partitions that are unchanged since their
 * archive check; those an earlier run detached are left as they are. Returns the group's
 * partitions to drop.
 */
async function detachGroup(run: PruneRun, due: Map<DropAction, NewestRow>, foreignKeys: ForeignKey[]): Promise<DropAction[]> {
  const { ctx, client } = run;
  const candidates = [...due.keys()];
  const referenced = referencedTables(foreignKeys);
  return runWithLockTimeout(client, `detach ${candidates.map((a) => a.relation).join(', ')}`, ctx.settings, ctx.log, async () => {
    await client.query(COMMIT_WITHOUT_FLUSH);
    if (referenced.length > 0) await client.query(`LOCK TABLE ${referenced.join(', ')} IN SHARE ROW EXCLUSIVE MODE`);
    const unchanged = run.store ? await keepChangedSinceCheck(client, due) : candidates;
    const attached = await stillPartitions(client, unchanged);
    // Plain DETACH takes ACCESS EXCLUSIVE on the parent; DETACH CONCURRENTLY is refused while a
    // DEFAULT partition exists. lock_timeout bounds how long inserts can wait for it.
    const statements = attached.flatMap((action) => {
      const comment = detachedComment(action);
      return [
        `ALTER TABLE ${quoteIdent(action.table)} DETACH PARTITION ${quoteIdent(action.relation)}`,
        `COMMENT ON TABLE ${quoteIdent(action.relation)} IS ${pg.escapeLiteral(comment)}`,
      ];
    });
    if (statements.length > 0) await client.query(statements.join(';\n'));
    return unchanged;
  });
}

/** The actions whose relation is still a partition (not detached by an earlier run). Cost: one catalog lookup. */
async function stillPartitions(client: pg.ClientBase, actions: DropAction[]): Promise<DropAction[]> {
  const { rows } = await client.query<{ relname: string }>(
    `SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relispartition AND relname = ANY ($1::text[])`,
    [actions.map((action) => action.relation)],
  );
  const partitions = new Set(rows.map((row) => row.relname));
  return actions.filter((action) => partitions.has(action.relation));
}

function detachedComment(action: DropAction): string {
  return `${DETACHED_BY_PRUNE_COMMENT}\nfrom ${action.from ?? 'none'} to ${action.to}`;
}

/**
 * The partitions of `table` an earlier prune detached and did not drop (see dropGroup), with the
 * bounds they had: the plan drops them first. Cost: one catalog query.
 */
export async function listDetachedByPrune(
  client: pg.ClientBase,
  table: string,
): Promise<Array<{ relation: string; from: string | null; to: string }>> {
  const { rows } = await client.query<{ relname: string; bounds: string }>(
    `SELECT c.relname, split_part(obj_description(c.oid, 'pg_class'), E'\n', 2) AS bounds FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
        AND starts_with(c.relname, $1 || '_') AND split_part(obj_description(c.oid, 'pg_class'), E'\n', 1) = $2
      ORDER BY c.relname`,
    [table, DETACHED_BY_PRUNE_COMMENT],
  );
  return rows.map((row) => {
    const bounds = /^from (\S+) to (\S+)$/.exec(row.bounds);
    if (!bounds?.[1] || !bounds[2])
      throw new Error(`unreadable bounds line "${row.bounds}" in the comment of ${row.relname}; was it edited by hand?`);
    return { relation: row.relname, from: bounds[1] === 'none' ? null : bounds[1], to: bounds[2] };
  });
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
