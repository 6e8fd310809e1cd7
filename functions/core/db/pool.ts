import pg from 'pg';
import { DatabaseUnavailableError } from '../errors';
import type { Logger } from '../log';
import { type ConnectionSettings, describeTarget } from './settings';

/** SQLSTATE classes and codes that mean "cannot connect / not allowed in", not "bad query". */
const UNAVAILABLE_CODES = new Set(['28P01', '28000', '3D000', '57P03', '53300', '08001', '08006']);
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);

export function createPool(settings: ConnectionSettings, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: settings.url,
    ...(settings.ssl === undefined ? {} : { ssl: settings.ssl }),
    max: settings.poolMax,
    min: settings.poolMin,
    connectionTimeoutMillis: settings.acquireTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    application_name: settings.applicationName,
    statement_timeout: settings.statementTimeoutMs,
    // node-postgres parses timestamps only in ISO output; a database or role set to another
    // DateStyle must not turn our dates into nulls.
    options: '-c DateStyle=ISO,MDY',
    // TCP keepalive: a connection that died silently (a frozen Lambda, a dropped NAT entry) is
    // noticed by the socket instead of hanging the next query.
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
  });
  // An idle client dying (server restart, failover) must not crash the process.
  pool.on('error', (error) => log.warn('idle database connection failed', { error: error.message }));
  return pool;
}

/** True when an error says the database is unreachable or refused us. */
export function isUnavailableError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || NETWORK_ERRORS.has(code))) return true;
  const message = error instanceof Error ? error.message : '';
  return /timeout expired|timeout exceeded when trying to connect|Connection terminated|does not support SSL|self[- ]signed|certificate/i.test(
    message,
  );
}

/**
 * Turns a connection failure into a DatabaseUnavailableError naming host, port and database
 * (never the password); other errors pass through unchanged.
 */
export function toUnavailableError(error: unknown, url: string): unknown {
  if (!isUnavailableError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new DatabaseUnavailableError(
    `cannot connect to ${describeTarget(url)}: ${reason}. Check that the server is running and the URL, user and password are right.`,
    { cause: error },
  );
}

/**
 * Connects once, outside the pool, and asks for the database name, so an unreachable database
 * fails within `timeoutMs` with a clear message even though the pool may wait longer for a
 * connection under load.
 */
export async function verifyConnection(url: string, timeoutMs: number): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ name: string }>('SELECT current_database() AS name');
    return rows[0]?.name ?? '';
  } catch (error) {
    throw toUnavailableError(error, url);
  } finally {
    await client.end().catch(() => undefined);
  }
}
