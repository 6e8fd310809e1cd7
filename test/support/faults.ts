import pg from 'pg';
import type { OperationContext } from '../../functions/core/context';
import { adminUrl, holdInTransaction, testContext } from './database';

/** What happens to the maintenance session just before the chosen statement runs. */
export type Fault =
  /** pg_terminate_backend from a second connection, as an operator or a failover would. */
  | 'terminate'
  /** statement_timeout of 1 ms for the rest of its transaction: the statement is cancelled. */
  | 'statement-timeout';

export interface FaultPoint {
  /** Matches the SQL text of the statement to strike. */
  statement: RegExp;
  /** Strike the n-th matching statement (1 = the first). */
  occurrence?: number;
  fault: Fault;
  /**
   * For a statement too quick to outlast even 1 ms: a LOCK statement (built from the struck SQL)
   * that a second session holds for a while, so the statement waits and its timeout fires.
   */
  holdLock?: (sql: string) => string;
}

/**
 * An operation context on `url` whose session meets `point`'s fault right before the chosen
 * statement: the real server kills or cancels it, nothing is simulated. `struck()` says whether
 * the statement was reached. A statement's text is matched once the core sends it to the server.
 */
export function contextWithFault(
  url: string,
  point: FaultPoint,
  options: Parameters<typeof testContext>[1] = {},
): { ctx: OperationContext; struck: () => boolean } {
  const ctx = testContext(url, options);
  let seen = 0;
  let struck = false;
  const patched = new WeakSet<pg.PoolClient>();
  const connect = ctx.pool.connect.bind(ctx.pool) as () => Promise<pg.PoolClient>;
  const patchedConnect = async () => {
    const client = await connect();
    if (patched.has(client)) return client;
    patched.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.query = (async (...args: unknown[]) => {
      const first = args[0];
      const text = typeof first === 'string' ? first : ((first as { text?: string })?.text ?? '');
      if (!struck && point.statement.test(text) && ++seen === (point.occurrence ?? 1)) {
        struck = true;
        if (point.holdLock) await holdBriefly(url, point.holdLock(text));
        await strike(client, point.fault, query);
      }
      return query(...args);
    }) as typeof client.query;
    return client;
  };
  ctx.pool.connect = patchedConnect as typeof ctx.pool.connect;
  return { ctx, struck: () => struck };
}

async function strike(client: pg.PoolClient, fault: Fault, query: (...args: unknown[]) => Promise<unknown>): Promise<void> {
  if (fault === 'statement-timeout') {
    await query(`SELECT set_config('statement_timeout', '1ms', true)`);
    return;
  }
  const pid = (client as unknown as { processID: number }).processID;
  const admin = new pg.Client(adminUrl());
  await admin.connect();
  try {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    // The backend exits asynchronously: wait until it is gone, so the statement meets a dead session.
    for (let i = 0; i < 200; i++) {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      if (rowCount === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`backend ${pid} survived pg_terminate_backend`);
  } finally {
    await admin.end();
  }
}

/** Takes `lockStatement` in a transaction of a second session on `url` and releases it after a second. */
async function holdBriefly(url: string, lockStatement: string): Promise<void> {
  const blocker = await holdInTransaction(url, lockStatement);
  setTimeout(() => void blocker.release(), 1_000);
}
