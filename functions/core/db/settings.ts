import type { ConnectionOptions } from 'node:tls';

/** How to reach the database and how the pool behaves. Built by the entry points, never from process.env here. */
export interface ConnectionSettings {
  /** postgres:// URL; `sslmode` and other parameters in it are honoured by node-postgres. */
  url: string;
  /** TLS settings; an `sslmode` in the URL takes precedence in node-postgres, so entry points strip it when setting this. */
  ssl?: false | ConnectionOptions;
  /** Shown in pg_stat_activity so a DBA can tell our sessions apart. */
  applicationName: string;
  poolMax: number;
  poolMin: number;
  /** Longest wait for a connection, including connecting. */
  acquireTimeoutMs: number;
  /** Longest wait for the first connection check: an unreachable server fails this fast. */
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  statementTimeoutMs: number;
}

/** Pool defaults of the database guide: max 10, min 2, acquire 30 s, idle 600 s. */
export const DEFAULT_CONNECTION_SETTINGS: Omit<ConnectionSettings, 'url'> = {
  applicationName: 'perps-stats-db',
  poolMax: 10,
  poolMin: 2,
  acquireTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 600_000,
  statementTimeoutMs: 300_000,
};

/** Knobs of the maintenance operations: short DDL lock waits, bounded retries, bounded batches. */
export interface MaintenanceSettings {
  /** `lock_timeout` for every DDL statement: the longest any insert can queue behind us. */
  lockTimeoutMs: number;
  /** Attempts per DDL step before that table is reported failed. */
  ddlAttempts: number;
  /** First retry delay; doubled per attempt, with full jitter. */
  retryBaseDelayMs: number;
  /** Rows per transaction when deleting or moving rows. */
  batchSize: number;
  /** How long `migrate` waits for a concurrent runner to finish. */
  migrateLockWaitMs: number;
  /**
   * With a deadline (Lambda), no new step starts with less time than this left: a step (one
   * migration, one partition, one delete batch) must finish before the function is killed.
   */
  deadlineReserveMs: number;
}

export const DEFAULT_MAINTENANCE_SETTINGS: MaintenanceSettings = {
  lockTimeoutMs: 1_000,
  ddlAttempts: 5,
  retryBaseDelayMs: 200,
  batchSize: 10_000,
  migrateLockWaitMs: 300_000,
  deadlineReserveMs: 30_000,
};

/** `postgres://user:secret@host/db` -> `postgres://user:***@host/db`; never throws. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|secret|key/i.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
  }
}

/** `host:port/database` of a URL, for messages. */
export function describeTarget(url: string): string {
  const target = targetOf(url);
  return target ? `${target.host}:${target.port}/${target.database}` : '(unparseable URL)';
}

/** Host, port and database of a URL, with libpq's defaults; undefined when it does not parse. */
export function targetOf(url: string): { host: string; port: string; database: string } | undefined {
  try {
    const parsed = new URL(url);
    return {
      host: parsed.hostname || 'localhost',
      port: parsed.port || '5432',
      database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(default database)',
    };
  } catch {
    return undefined;
  }
}

/** Why a database URL is unusable ("is not a URL ..."), or undefined when it looks right. Never echoes the password. */
export function urlProblem(url: string): string | undefined {
  if (url.trim() === '') return `is empty: expected ${URL_SHAPE}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL parser only says "Invalid URL"; a port out of range is worth naming. Only digits
    // with no "@" after them are echoed: otherwise they may be part of a password with an
    // unencoded "/" in it.
    const port = /^[a-z][\w+.-]*:\/\/(?:[^/?#]*@)?(?:\[[^\]]*\]|[^:/?#@]*):(\d+)(?:[/?#][^@]*)?$/i.exec(url)?.[1];
    if (port !== undefined && !isPort(port)) return badPort(port);
    return `is not a URL (${maskUrl(url)}): expected ${URL_SHAPE}`;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    return `must start with postgres:// or postgresql:// (got ${parsed.protocol}//)`;
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) return `has no host: expected ${URL_SHAPE}`;
  if (parsed.port === '0') return badPort('0');
  return undefined;
}

const URL_SHAPE = 'postgres://user:password@host:5432/database';

function isPort(digits: string): boolean {
  return Number(digits) >= 1 && Number(digits) <= 65_535;
}

const badPort = (digits: string) => `has a bad port ${digits}: expected a number from 1 to 65535, as in ${URL_SHAPE}`;
