import pg from 'pg';
import type { OperationContext } from '../../functions/shared/context';
import { adminUrl, holdInTransaction, testContext } from './database';
import { interceptStatements } from './intercept';

/** What happens to the maintenance session just before the chosen statement runs. */
export type Fault =
  /** pg_terminate_backend from a second connection, as an operator or a failover would. */
  | 'terminate'
  /** statement_timeout for the rest of its transaction, firing while the statement waits on `holdLock`'s lock: it is cancelled. */
  | 'statement-timeout'
  /**
   * SIGKILL of the session's server process: the postmaster takes it for a crash, ends every
   * session and recovers from the WAL, as after a crash of the server. Only on a server of the
   * test's own (see startTestServer): it ends every session on it.
   */
  | 'crash';

export interface FaultPoint {
  /**
   * The step to strike in, by its name as the operation announces it (`ctx.onStep`, called by
   * assertTimeForStep at every step boundary): the first statement of its `occurrence`-th match
   * is struck, or the first matching `statement` from there.
   */
  step?: RegExp;
  /** Without `step`: matches the SQL text of the statement to strike. With it: narrows the step's statements. */
  statement?: RegExp;
  /** Strike in the n-th matching step, or without `step` the n-th matching statement (1 = the first). */
  occurrence?: number;
  fault: Fault;
  /**
   * A statement (built from the struck SQL; a LOCK, or one creating the same table) that a second
   * session runs and holds for a second, so the struck statement waits and its timeout fires
   * there. Required for 'statement-timeout'.
   */
  holdLock?: (sql: string) => string;
}

/**
 * The timeout a 'statement-timeout' strike sets. PostgreSQL arms it when the query arrives; if it
 * fires before the first statement of a multi-statement query starts (while the text is parsed,
 * or the backend waits for a CPU), that statement re-arms it and the cancel is reported as "user
 * request". Long enough for no such delay, short of the held second and of lock_timeout.
 */
const STRUCK_STATEMENT_TIMEOUT_MS = 200;

/**
 * An operation context on `url` whose session meets `point`'s fault right before the chosen
 * statement: the real server kills or cancels it, nothing is simulated. `struck()` says whether
 * the statement was reached.
 */
export function contextWithFault(
  url: string,
  point: FaultPoint,
  options: Parameters<typeof testContext>[1] = {},
): { ctx: OperationContext; struck: () => boolean } {
  if (!point.step && !point.statement) throw new Error('a fault point names a step or a statement');
  if (point.fault === 'statement-timeout' && !point.holdLock) {
    throw new Error('a statement-timeout fault point needs holdLock: its statement must be waiting when the timeout fires');
  }
  const ctx = testContext(url, options);
  const chosen = chooser(point);
  ctx.onStep = chosen.step;
  let struck = false;
  interceptStatements(ctx, {
    async before(text, client, query) {
      if (struck || !chosen.statement(text)) return;
      struck = true;
      if (point.holdLock) await holdBriefly(url, point.holdLock(text));
      await strike(url, client, point.fault, query);
    },
  });
  return { ctx, struck: () => struck };
}

/** Whether a step and a statement are the point's: by step (then statement), or by statement alone. */
function chooser(point: FaultPoint): { step: (name: string) => void; statement: (text: string) => boolean } {
  const occurrence = point.occurrence ?? 1;
  let seen = 0;
  let inStep = !point.step;
  return {
    step(name) {
      if (point.step?.test(name) && ++seen === occurrence) inStep = true;
    },
    statement(text) {
      if (!inStep || (point.statement && !point.statement.test(text))) return false;
      return point.step !== undefined || ++seen === occurrence;
    },
  };
}

async function strike(url: string, client: pg.PoolClient, fault: Fault, query: (...args: unknown[]) => Promise<unknown>): Promise<void> {
  if (fault === 'statement-timeout') {
    await query(`SELECT set_config('statement_timeout', '${STRUCK_STATEMENT_TIMEOUT_MS}ms', true)`);
    return;
  }
  const pid = (client as unknown as { processID: number }).processID;
  if (fault === 'crash') {
    process.kill(pid, 'SIGKILL');
    await untilRecovered(url, pid);
    return;
  }
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

/** Waits until the server of `url` has recovered from the crash its process `pid` was killed in. */
async function untilRecovered(url: string, pid: number): Promise<void> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 500 && alive(); i++) await sleep(10);
  // The postmaster then ends every other session and replays the WAL; a session that got in
  // before it noticed would be ended too.
  await sleep(500);
  for (let i = 0; i < 300; i++) {
    const probe = new pg.Client(url);
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.query('SELECT 1');
      await probe.end();
      return;
    } catch {
      await probe.end().catch(() => undefined);
      await sleep(100);
    }
  }
  throw new Error('the server did not come back after the crash');
}

/** Takes `lockStatement` in a transaction of a second session on `url` and releases it after a second. */
async function holdBriefly(url: string, lockStatement: string): Promise<void> {
  const blocker = await holdInTransaction(url, lockStatement);
  setTimeout(() => void blocker.release(), 1_000);
}
