import pg from 'pg';
import { type ForeignKey, foreignKeyStates, IN_PROGRESS_COMMENT, type IndexShape, listIndexShapes } from './catalog';
import type { OperationContext } from './context';
import { dayBoundLiterals, partitionName } from './days';
import { quoteIdent } from './db/identifiers';
import {
  blockingLockWait,
  COMMIT_WITHOUT_FLUSH,
  configuredLockWait,
  quietLockWait,
  referencedTables,
  runWithLockTimeout,
} from './db/locks';
import { replaceOnConflict } from './row-moves';

/*
 * One day partition, built the low-lock way: a standalone table shaped like the parent with a
 * CHECK matching the day's bounds (so ATTACH need not scan it), filled while it is nobody's but
 * ours, then attached in one short transaction. Every step is its own transaction under the lock
 * timeout, with retries. A standalone table carries IN_PROGRESS_COMMENT until it is attached, so
 * the next run finishes one an interrupted run left behind.
 */

/** What building one day's partition of `table` needs to know. */
export interface DayTable {
  table: string;
  day: string;
  /** `<table>_YYYY_MM_DD`. */
  name: string;
  defaultPartition: string | undefined;
  /** The parent's columns, in order. */
  columns: string[];
  /** The parent's own foreign keys: cloned by ATTACH, or added and validated beforehand. */
  foreignKeys: ForeignKey[];
  /** The name this table takes once attached, when it was built under another (restore's). */
  renameTo?: string;
  /**
   * An attached partition of the same day swapped out in the attach transaction (restore): detached
   * (catalog only, no row read under the parent's lock) and renamed to `keptAs` with `comment`, its
   * foreign keys (`foreignKeys`, their names) dropped there too. What becomes of its rows is the
   * caller's, after the commit.
   */
  replaces?: { partition: string; keptAs: string; comment: string; foreignKeys: string[] };
  /** The parent's primary key: a row swept in from the DEFAULT partition replaces one with its key (replaceOnConflict). */
  conflictKey?: string[];
}

export function dayTable(shape: Omit<DayTable, 'day' | 'name'>, day: string): DayTable {
  return { ...shape, day, name: partitionName(shape.table, day) };
}

/** The CHECK that lets ATTACH skip scanning the day table, quoted. */
const checkOf = (plan: DayTable) => quoteIdent(`${plan.name}_bounds`);

function boundsCheck(plan: DayTable): string {
  const { from, to } = dayBoundLiterals(plan.day);
  return `ALTER TABLE ${quoteIdent(plan.name)} ADD CONSTRAINT ${checkOf(plan)} CHECK (ts >= '${from}'::timestamptz AND ts < '${to}'::timestamptz)`;
}

/**
 * The day table, shaped like the parent. Filled later: without indexes until buildIndexes, and
 * left alone by autovacuum until it is attached (its work would be wasted on a table still
 * filling, and it would hold up the index builds and the attach).
 */
function createStatement(plan: DayTable, filled: 'filled later' | 'attached at once'): string {
  const create = `CREATE TABLE ${quoteIdent(plan.name)} (LIKE ${quoteIdent(plan.table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS`;
  return filled === 'filled later' ? `${create}) WITH (autovacuum_enabled = false)` : `${create} INCLUDING INDEXES)`;
}

/**
 * Step 1 of a day with rows to move in: the standalone table, marked in progress, with its bounds
 * CHECK and no indexes yet (rows go in several times faster; buildIndexes adds them once it is
 * filled). A table an interrupted run left (`ours`) is adopted: its CHECK is added again (a scan
 * of that table alone, which nobody else uses). `marker` is the comment it carries until attached:
 * IN_PROGRESS_COMMENT lets the next partitions run adopt it; restore marks its own with
 * RESTORE_IN_PROGRESS_COMMENT, so a half-loaded day is never attached by anyone else.
 */
export async function prepareDayTable(
  ctx: OperationContext,
  client: pg.ClientBase,
  plan: DayTable,
  existing: 'ours' | 'none',
  marker: string = IN_PROGRESS_COMMENT,
): Promise<void> {
  const statements =
    existing === 'ours'
      ? [
          quietLockWait(ctx),
          `ALTER TABLE ${quoteIdent(plan.name)} SET (autovacuum_enabled = false)`,
          `ALTER TABLE ${quoteIdent(plan.name)} DROP CONSTRAINT IF EXISTS ${checkOf(plan)}`,
          boundsCheck(plan),
        ]
      : [
          createStatement(plan, 'filled later'),
          `COMMENT ON TABLE ${quoteIdent(plan.name)} IS ${pg.escapeLiteral(marker)}`,
          boundsCheck(plan),
        ];
  await runWithLockTimeout(client, `prepare ${plan.name}`, ctx.settings, ctx.log, () => client.query(statements.join(';\n')));
}

/**
 * Step 2 of a day with rows, once filled: the parent's indexes it lacks, built in one transaction
 * (a sort each, holding only this table), so ATTACH finds them all and adopts them. Indexes an
 * interrupted run built, or a table made with them, are matched by shape and not built again.
 */
export async function buildIndexes(ctx: OperationContext, client: pg.ClientBase, plan: DayTable): Promise<void> {
  const wanted = await listIndexShapes(client, plan.table);
  const present = await listIndexShapes(client, plan.name);
  const same = (a: IndexShape, b: IndexShape) =>
    a.shape === b.shape && a.unique === b.unique && (a.constraint === null) === (b.constraint === null);
  const missing = wanted.filter((index) => !present.some((p) => same(p, index)));
  if (missing.length === 0) return;
  const name = quoteIdent(plan.name);
  const statements = missing.map((index) =>
    index.constraint
      ? `ALTER TABLE ${name} ADD ${index.constraint}`
      : `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ON ${name}${index.shape}`,
  );
  await runWithLockTimeout(client, `build the indexes of ${plan.name}`, ctx.settings, ctx.log, () =>
    client.query([quietLockWait(ctx), ...statements].join(';\n')),
  );
}

/**
 * Step 3 of a day with rows: the parent's foreign keys added NOT VALID, then validated, each its
 * own transaction. Adding takes SHARE ROW EXCLUSIVE on the referenced tables (their triggers),
 * which inserts' foreign-key checks do not conflict with; VALIDATE scans the day's rows holding
 * only SHARE UPDATE EXCLUSIVE on this table and ROW SHARE on the referenced ones, so inserts
 * never wait for it. ATTACH then adopts the validated keys and has nothing to check. Keys an
 * interrupted run already added or validated are not done again.
 */
export async function validateForeignKeys(ctx: OperationContext, client: pg.ClientBase, plan: DayTable): Promise<void> {
  const present = await foreignKeyStates(client, plan.name);
  const missing = plan.foreignKeys.filter((fk) => !present.has(fk.name));
  if (missing.length > 0) {
    const adds = missing.map((fk) => `ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition} NOT VALID`);
    await runWithLockTimeout(client, `add foreign keys to ${plan.name}`, ctx.settings, ctx.log, () =>
      client.query(`ALTER TABLE ${quoteIdent(plan.name)} ${adds.join(', ')}`),
    );
  }
  for (const fk of plan.foreignKeys.filter((key) => !present.get(key.name)?.validated)) {
    await runWithLockTimeout(client, `validate ${fk.name} of ${plan.name}`, ctx.settings, ctx.log, () =>
      client.query(`${quietLockWait(ctx)};\nALTER TABLE ${quoteIdent(plan.name)} VALIDATE CONSTRAINT ${quoteIdent(fk.name)}`),
    );
  }
}

/**
 * The attach transaction of `plans` (days of one table), as statements. Why inserts are held: an
 * INSERT picks its partition before it locks it. One that picked the default and then waited for
 * our lock there would, once ATTACH commits, fail the default's new constraint ("new row for
 * relation ..._default violates partition constraint": found by the benchmark's writer). So the
 * parent (ONLY: not its partitions) is locked before the default, letting in-flight inserts
 * finish; new ones wait, then route to the new partitions. What they wait for: our waits (each at
 * most BLOCKING_LOCK_WAIT_MS), and for each day the sweep of its last rows out of the DEFAULT
 * partition (those that came in since the last move: a handful), ATTACH's scan of the DEFAULT
 * partition (kept near-empty: see default-backlog.ts), and the catalog changes. A `filled` table
 * (prepareDayTable, validateForeignKeys) has its bounds CHECK, dropped once attached, and its own
 * validated foreign keys: ATTACH adopts them, which drops their triggers from the referenced
 * tables, ACCESS EXCLUSIVE there for the rest of this short transaction. An `empty` one (made in
 * this transaction) has neither: ATTACH clones the keys and checks the swept rows, which needs
 * only SHARE ROW EXCLUSIVE, taken first while inserts still flow.
 */
function attachStatements(ctx: OperationContext, plans: DayTable[], prepared: 'filled' | 'empty'): string[] {
  const ownForeignKeys = prepared === 'filled';
  const [first] = plans;
  if (!first) return [];
  const referenced = referencedTables(first.foreignKeys).join(', ');
  const list = first.columns.map(quoteIdent).join(', ');
  // First what no insert waits for, with a long wait that makes autovacuum yield (see
  // quietLockWait): the filled day tables, and the DEFAULT partition in a mode inserts do
  // not conflict with, so that neither can hold up the short waits below.
  const statements: string[] = [quietLockWait(ctx)];
  const names = plans.map((plan) => plan.name);
  if (ownForeignKeys) statements.push(`LOCK TABLE ${names.map(quoteIdent).join(', ')} IN ACCESS EXCLUSIVE MODE`);
  if (first.defaultPartition) statements.push(`LOCK TABLE ${quoteIdent(first.defaultPartition)} IN SHARE UPDATE EXCLUSIVE MODE`);
  statements.push(configuredLockWait(ctx));
  if (referenced) statements.push(`LOCK TABLE ${referenced} IN SHARE ROW EXCLUSIVE MODE`);
  statements.push(blockingLockWait(ctx));
  const replaced = plans.flatMap((plan) => (plan.replaces ? [plan.replaces] : []));
  // Detaching a partition takes ACCESS EXCLUSIVE on the parent: taken here, under the short wait.
  if (replaced.length > 0) statements.push(`LOCK TABLE ONLY ${quoteIdent(first.table)} IN ACCESS EXCLUSIVE MODE`);
  if (first.defaultPartition) {
    statements.push(
      `LOCK TABLE ONLY ${quoteIdent(first.table)} IN SHARE ROW EXCLUSIVE MODE`,
      `LOCK TABLE ${quoteIdent(first.defaultPartition)} IN ACCESS EXCLUSIVE MODE`,
    );
  }
  if (ownForeignKeys && referenced) statements.push(`LOCK TABLE ${referenced} IN ACCESS EXCLUSIVE MODE`);
  for (const plan of plans) {
    const { from, to } = dayBoundLiterals(plan.day);
    if (plan.replaces) {
      // Not dropped: rows written into it since the caller last looked are still there.
      const { partition, keptAs, comment, foreignKeys } = plan.replaces;
      statements.push(
        `ALTER TABLE ${quoteIdent(plan.table)} DETACH PARTITION ${quoteIdent(partition)}`,
        ...foreignKeys.map((fk) => `ALTER TABLE ${quoteIdent(partition)} DROP CONSTRAINT ${quoteIdent(fk)}`),
        `ALTER TABLE ${quoteIdent(partition)} RENAME TO ${quoteIdent(keptAs)}`,
        `COMMENT ON TABLE ${quoteIdent(keptAs)} IS ${pg.escapeLiteral(comment)}`,
      );
    }
    if (plan.defaultPartition) {
      statements.push(
        `WITH moved AS (DELETE FROM ${quoteIdent(plan.defaultPartition)} WHERE ts >= '${from}'::timestamptz AND ts < '${to}'::timestamptz RETURNING ${list})
         INSERT INTO ${quoteIdent(plan.name)} (${list}) SELECT ${list} FROM moved${replaceOnConflict(plan.conflictKey, plan.columns)}`,
      );
    }
    statements.push(
      `ALTER TABLE ${quoteIdent(plan.table)} ATTACH PARTITION ${quoteIdent(plan.name)} FOR VALUES FROM ('${from}') TO ('${to}')`,
    );
    if (prepared === 'filled') statements.push(`ALTER TABLE ${quoteIdent(plan.name)} DROP CONSTRAINT ${checkOf(plan)}`);
  }
  return statements;
}

/** Rows the sweeps of a multi-statement attach moved (its INSERTs). */
function sweptRows(result: pg.QueryResult | pg.QueryResult[]): number {
  const results = Array.isArray(result) ? result : [result];
  return results.filter((r) => r.command === 'INSERT').reduce((rows, r) => rows + (r.rowCount ?? 0), 0);
}

/**
 * Step 4 of a day with rows: attaches the prepared, filled and validated table (see
 * attachStatements), swapping out the partition it `replaces` and taking its final name (`renameTo`) in the
 * same transaction.
 * Returns the rows swept in from the DEFAULT partition.
 */
export async function attachDayTable(ctx: OperationContext, client: pg.ClientBase, plan: DayTable): Promise<number> {
  const statements = [
    // A table built under another name is restore's, which keeps its commit flushed.
    ...(plan.renameTo ? [] : [COMMIT_WITHOUT_FLUSH]),
    ...attachStatements(ctx, [plan], 'filled'),
    `ALTER TABLE ${quoteIdent(plan.name)} RESET (autovacuum_enabled)`,
    `COMMENT ON TABLE ${quoteIdent(plan.name)} IS NULL`,
    ...(plan.renameTo ? [`ALTER TABLE ${quoteIdent(plan.name)} RENAME TO ${quoteIdent(plan.renameTo)}`] : []),
  ];
  const result = await runWithLockTimeout(client, `attach ${plan.name}`, ctx.settings, ctx.log, () => client.query(statements.join(';\n')));
  return sweptRows(result as unknown as pg.QueryResult | pg.QueryResult[]);
}

/**
 * Days of one table with no rows waiting anywhere but (perhaps) a few in the DEFAULT partition:
 * created and attached together, in one transaction and one round trip, so none exists
 * unattached. The tables are created before the locks are taken; the parent is then held for the
 * attaches alone, a few ms a day: callers pass a handful of days (WINDOW_DAYS_PER_TRANSACTION).
 * No bounds CHECK: ATTACH's check of such a table reads only the rows the sweep put in, which the
 * sweep has just read under the same locks; adding and dropping the CHECK cost about a tenth of
 * creating 30 days.
 * Returns the rows swept in from the DEFAULT partition.
 */
export async function createEmptyDayPartitions(ctx: OperationContext, client: pg.ClientBase, plans: DayTable[]): Promise<number> {
  const statements = [
    COMMIT_WITHOUT_FLUSH,
    ...plans.map((plan) => createStatement(plan, 'attached at once')),
    ...attachStatements(ctx, plans, 'empty'),
  ];
  const step = `create ${plans.map((plan) => plan.name).join(', ')}`;
  const result = await runWithLockTimeout(client, step, ctx.settings, ctx.log, () => client.query(statements.join(';\n')));
  return sweptRows(result as unknown as pg.QueryResult | pg.QueryResult[]);
}

/**
 * Window days created per transaction: fewer commits (what creating 30 days costs most on a busy
 * disk), while the parent is held for at most this many attaches (about 20 ms).
 */
export const WINDOW_DAYS_PER_TRANSACTION = 7;
