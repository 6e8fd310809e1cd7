import type pg from 'pg';
import { DatabaseUnavailableError, LockBusyError } from '../errors';
import { printable } from '../printable';
import { connectTimeoutOfPool, toUnavailableError, urlOfPool } from './pool';
import { isConnectionFailure, SQLSTATE, sqlState } from './sql-errors';

/**
 * Borrows a client for `fn`; a client whose connection broke is discarded, not returned to the
 * pool. While it is borrowed, a connection error the client reports between two queries (the
 * session was terminated, the server failed over) is caught here: the pool listens only to idle
 * clients, and an unhandled 'error' event would crash the process. The next query then fails.
 */
/** The operations that take the maintenance lock (stats only reads, and takes none): a test keeps it in step with the registry. */
export const LOCKING_OPERATIONS = ['migrate', 'partitions', 'prune', 'vacuum', 'archive', 'restore'] as const;
const LOCKING_OPERATIONS_TEXT = `${LOCKING_OPERATIONS.slice(0, -1).join(', ')} or ${LOCKING_OPERATIONS.at(-1)}`;

export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toUnavailableError(error, urlOfPool(pool), connectTimeoutOfPool(pool));
  }
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
    lostConnections.set(client, error);
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (error) {
    if (isConnectionFailure(error)) broken ??= error as Error;
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

const lostConnections = new WeakMap<pg.ClientBase, Error>();

/**
 * The error that ends a run whose session died in the middle of it (terminated, failover,
 * network): later steps cannot run on a dead session. Each step is one transaction, so every step
 * before is complete or rolled back; `report` says which, and the next run carries on. The reason
 * is the server's own words ("terminating connection due to administrator command") when it said
 * so between two queries, rather than the generic "not queryable" of the query that found the
 * connection dead.
 */
export function connectionLostError(operation: string, client: pg.ClientBase, cause: unknown, report: unknown): DatabaseUnavailableError {
  const lost = lostConnections.get(client) ?? cause;
  const reason = lost instanceof Error ? lost.message : String(lost);
  return new DatabaseUnavailableError(
    `${operation} stopped: the database connection was lost (${reason}). Every step before it is complete or rolled back (see the report); run it again to carry on`,
    { cause, report },
  );
}

/** Runs `fn` inside BEGIN/COMMIT on `client`; rolls back on any error. */
export async function withTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * One advisory lock serialises migrate, partitions, prune and vacuum on a database: their DDL and row
 * moves must not interleave. Advisory lock keys are scoped to the current database.
 */
export const MAINTENANCE_LOCK_KEY = '7270450116001';

export type LockMode = { wait: false } | { wait: true; timeoutMs: number };

/**
 * Holds the session-level maintenance lock around `fn`. With `wait: false` a busy lock throws
 * LockBusyError at once; with `wait: true` it waits up to `timeoutMs`, then throws it.
 */
export async function withAdvisoryLock<T>(client: pg.ClientBase, operation: string, mode: LockMode, fn: () => Promise<T>): Promise<T> {
  if (mode.wait) {
    let busy: unknown;
    try {
      // The wait is bounded by lock_timeout; statement_timeout must not cut it shorter.
      await client.query(`SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [
        `${mode.timeoutMs}ms`,
        `${mode.timeoutMs + 5_000}ms`,
      ]);
      await client.query('SELECT pg_advisory_lock($1)', [MAINTENANCE_LOCK_KEY]);
    } catch (error) {
      // lock_timeout, or the statement_timeout set just above it: the wait was spent.
      const state = sqlState(error);
      if (state !== SQLSTATE.lockNotAvailable && state !== SQLSTATE.queryCanceled) throw error;
      busy = error;
    } finally {
      // Back to the session's own values (from the connection, role or database settings).
      await client.query('RESET lock_timeout; RESET statement_timeout').catch(() => undefined);
    }
    if (busy) throw await lockBusy(client, operation, `waited ${mode.timeoutMs} ms`, busy);
  } else {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [MAINTENANCE_LOCK_KEY]);
    if (!rows[0]?.locked) throw await lockBusy(client, operation, 'did not wait', undefined);
  }
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK_KEY]).catch(() => undefined);
  }
}

/** The session holding the maintenance lock, as pg_locks and pg_stat_activity show it to this login. */
interface LockHolder {
  pid: number | null;
  user: string | null;
  application: string | null;
  /** When its session connected; null when pg_stat_activity hides it from this login. */
  since: Date | null;
  /** Whether its user is a member of the owner of the migration ledger (or, before it exists, of the database). */
  maintains: boolean | null;
}

/**
 * Who holds the lock. An advisory lock on one bigint key shows in pg_locks as classid (its high
 * 32 bits), objid (its low 32 bits) and objsubid 1. pg_stat_activity shows every session's user
 * and application_name to every login, but its start only to the same user, a member of it, or
 * pg_read_all_stats.
 */
async function findLockHolder(client: pg.ClientBase): Promise<LockHolder | undefined> {
  const { rows } = await client.query<LockHolder>(
    `SELECT l.pid, a.usename::text AS "user", a.application_name AS application, a.backend_start AS since,
            pg_has_role(a.usesysid, coalesce((SELECT relowner FROM pg_class WHERE oid = to_regclass('public.perps_schema_migrations')), d.datdba), 'MEMBER') AS maintains
       FROM pg_locks l
       JOIN pg_database d ON d.oid = l.database
       LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()
        AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1
      LIMIT 1`,
    [MAINTENANCE_LOCK_KEY],
  );
  return rows[0];
}

/**
 * The LockBusyError of a run that found the lock taken, naming the holder's session (pid, user,
 * application_name, since when) so that an operator can find it, and, when its user runs no
 * maintenance (not a member of the tables' owner), how to end it. The names are any login's to
 * choose: they are shown quoted, with control characters escaped.
 */
async function lockBusy(client: pg.ClientBase, operation: string, how: string, cause: unknown): Promise<LockBusyError> {
  const holder = await findLockHolder(client).catch(() => undefined);
  if (!holder) {
    return new LockBusyError(
      `${operation}: another maintenance run (${LOCKING_OPERATIONS_TEXT}) holds the maintenance lock on this database (${how}); run again when it has finished`,
      { cause },
    );
  }
  const quoted = (text: string | null) => (text === null ? 'unknown' : `"${printable(text)}"`);
  const since = holder.since
    ? `connected since ${holder.since.toISOString()}`
    : 'connected since a time pg_stat_activity hides from this login';
  const session = `pid ${holder.pid ?? 'unknown'}, user ${quoted(holder.user)}, application_name ${quoted(holder.application)}, ${since}`;
  if (holder.maintains === false) {
    return new LockBusyError(
      `${operation}: the maintenance lock on this database is held by a session of a user that runs no maintenance (${session}; ${how}): ` +
        `end that session (SELECT pg_terminate_backend(${holder.pid}), as a superuser or a member of pg_signal_backend), then run again; ` +
        'only perps_reader, perps_writer and the owner should be able to connect (see README, Roles)',
      { cause },
    );
  }
  return new LockBusyError(
    `${operation}: another maintenance run (${LOCKING_OPERATIONS_TEXT}) holds the maintenance lock on this database (${session}; ${how}); run again when it has finished`,
    { cause },
  );
}
