import type pg from 'pg';
import { type ForeignKey, foreignKeyStates } from './catalog';
import type { OperationContext } from './context';
import { quoteIdent } from './db/identifiers';
import { blockingLockWait, COMMIT_WITHOUT_FLUSH, quietLockWait, referencedTables, runWithLockTimeout } from './db/locks';

/** What must hold before dropEmptiedTable drops a table with whatever it holds; throws to keep it. */
export type DropGuard = (client: pg.ClientBase) => Promise<void>;

/** Never drop a row: one put in by hand since the table was emptied waits for the next run. */
export function mustBeEmpty(table: string): DropGuard {
  return async (client) => {
    const found = await client.query<{ found: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${quoteIdent(table)}) AS found`);
    if (found.rows[0]?.found) throw new Error(`${table} still holds rows; the next run moves them`);
  };
}

/** For a table whose rows are kept elsewhere (restore's, loaded from the archive): dropped with them. */
export const ROWS_KEPT_ELSEWHERE: DropGuard = async () => {};

/**
 * Drops a backlog or day table of ours once it is empty, in three transactions. First TRUNCATE,
 * which holds only this table: its files, as large as the rows it once held, are unlinked at that
 * commit. Then its foreign keys: their triggers sit on the referenced tables, so dropping them
 * takes ACCESS EXCLUSIVE there, which inserts' foreign-key checks wait for: a wait under
 * BLOCKING_LOCK_WAIT_MS, a catalog-only change, and a commit that does not wait for the WAL flush
 * (COMMIT_WITHOUT_FLUSH). Last DROP, which then locks only this table. A transaction that deletes
 * files always waits for its WAL flush (PostgreSQL deletes them only once the commit is on disk),
 * which a recovery's write load makes slow: with the keys in the DROP's transaction, inserts
 * would wait for it. The table is no partition, so the parent is never locked.
 * `guard` runs under the table's lock before the TRUNCATE, so no row can come in after it: it
 * throws to keep the table (see DropGuard).
 */
export async function dropEmptiedTable(
  ctx: OperationContext,
  client: pg.ClientBase,
  table: string,
  foreignKeys: ForeignKey[],
  guard: DropGuard = mustBeEmpty(table),
): Promise<void> {
  await runWithLockTimeout(client, `empty ${table}`, ctx.settings, ctx.log, async () => {
    await client.query(quietLockWait(ctx));
    await client.query(`LOCK TABLE ${quoteIdent(table)} IN ACCESS EXCLUSIVE MODE`);
    await guard(client);
    await client.query(`TRUNCATE ${quoteIdent(table)}`);
  });
  const own = [...(await foreignKeyStates(client, table)).keys()];
  const referenced = referencedTables(foreignKeys);
  if (own.length > 0) {
    const statements = [
      COMMIT_WITHOUT_FLUSH,
      blockingLockWait(ctx),
      ...(referenced.length > 0 ? [`LOCK TABLE ${referenced.join(', ')} IN ACCESS EXCLUSIVE MODE`] : []),
      ...own.map((name) => `ALTER TABLE ${quoteIdent(table)} DROP CONSTRAINT ${quoteIdent(name)}`),
    ];
    await runWithLockTimeout(client, `drop the foreign keys of ${table}`, ctx.settings, ctx.log, () =>
      client.query(statements.join(';\n')),
    );
  }
  await runWithLockTimeout(client, `drop ${table}`, ctx.settings, ctx.log, () =>
    client.query(`${quietLockWait(ctx)};\nDROP TABLE ${quoteIdent(table)}`),
  );
}
