import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { z } from 'zod';
import {
  type ConnectionSettings,
  DEFAULT_CONNECTION_SETTINGS,
  DEFAULT_MAINTENANCE_SETTINGS,
  type MaintenanceSettings,
  maskUrl,
} from '../core/db/settings';
import { InputError } from '../core/errors';
import { describeIssues } from '../core/inputs';

/**
 * The runner's environment: the process environment overlaid with `.env` from the working
 * directory (the file wins, as the database guide says, so a project's .env is what runs),
 * and which keys came from the file, for messages.
 */
export function loadEnvironment(
  cwd: string,
  env: NodeJS.ProcessEnv,
): { values: Record<string, string | undefined>; fromDotenv: Set<string> } {
  const file = join(cwd, '.env');
  const fromFile = existsSync(file) ? dotenv.parse(readFileSync(file)) : {};
  return { values: { ...env, ...fromFile }, fromDotenv: new Set(Object.keys(fromFile)) };
}

const int = (min: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` });

const environmentSchema = z.object({
  DATABASE_URL: z.string().optional(),
  DB_POOL_MAX: int(1).default(DEFAULT_CONNECTION_SETTINGS.poolMax),
  DB_POOL_MIN: int(0).default(DEFAULT_CONNECTION_SETTINGS.poolMin),
  DB_ACQUIRE_TIMEOUT_MS: int(1).default(DEFAULT_CONNECTION_SETTINGS.acquireTimeoutMs),
  DB_CONNECT_TIMEOUT_MS: int(1).default(DEFAULT_CONNECTION_SETTINGS.connectTimeoutMs),
  DB_IDLE_TIMEOUT_MS: int(1).default(DEFAULT_CONNECTION_SETTINGS.idleTimeoutMs),
  DB_STATEMENT_TIMEOUT_MS: int(0).default(DEFAULT_CONNECTION_SETTINGS.statementTimeoutMs),
  DB_LOCK_TIMEOUT_MS: int(1).default(DEFAULT_MAINTENANCE_SETTINGS.lockTimeoutMs),
  DB_DDL_ATTEMPTS: int(1).default(DEFAULT_MAINTENANCE_SETTINGS.ddlAttempts),
  MAINTENANCE_BATCH_SIZE: int(1).default(DEFAULT_MAINTENANCE_SETTINGS.batchSize),
  PERPS_EMBEDDED_DIR: z.string().optional(),
  PERPS_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error'], { error: 'must be debug, info, warn or error' }).default('warn'),
});

export interface RunnerSettings {
  /** Undefined: use the embedded database. */
  url: string | undefined;
  /** Where the URL came from, for messages. */
  urlSource: '--database-url' | 'DATABASE_URL in .env' | 'DATABASE_URL in the environment' | 'embedded';
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  connection: Omit<ConnectionSettings, 'url'>;
  maintenance: MaintenanceSettings;
  embeddedDir: string;
}

/** Resolves and validates every setting at once; all problems in one InputError. */
export function resolveSettings(
  flagUrl: string | undefined,
  cwd: string,
  env: Record<string, string | undefined>,
  fromDotenv: ReadonlySet<string> = new Set(),
): RunnerSettings {
  const parsed = environmentSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  const problems = parsed.success ? [] : describeIssues(parsed.error);
  const url = flagUrl ?? parsed.data?.DATABASE_URL;
  if (url !== undefined) {
    const urlProblem = checkUrl(url);
    if (urlProblem)
      problems.push(
        `${flagUrl !== undefined ? '--database-url' : `DATABASE_URL${fromDotenv.has('DATABASE_URL') ? ' (in .env)' : ''}`} ${urlProblem}`,
      );
  }
  if (!parsed.success || problems.length > 0) throw new InputError(problems);
  const e = parsed.data;
  return {
    url,
    urlSource:
      flagUrl !== undefined
        ? '--database-url'
        : url === undefined
          ? 'embedded'
          : fromDotenv.has('DATABASE_URL')
            ? 'DATABASE_URL in .env'
            : 'DATABASE_URL in the environment',
    logLevel: e.PERPS_LOG_LEVEL,
    connection: {
      applicationName: DEFAULT_CONNECTION_SETTINGS.applicationName,
      poolMax: e.DB_POOL_MAX,
      poolMin: Math.min(e.DB_POOL_MIN, e.DB_POOL_MAX),
      acquireTimeoutMs: e.DB_ACQUIRE_TIMEOUT_MS,
      connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
      idleTimeoutMs: e.DB_IDLE_TIMEOUT_MS,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    },
    maintenance: {
      ...DEFAULT_MAINTENANCE_SETTINGS,
      lockTimeoutMs: e.DB_LOCK_TIMEOUT_MS,
      ddlAttempts: e.DB_DDL_ATTEMPTS,
      batchSize: e.MAINTENANCE_BATCH_SIZE,
    },
    embeddedDir: e.PERPS_EMBEDDED_DIR ?? join(cwd, '.pglite'),
  };
}

function checkUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `is not a URL (${maskUrl(url)}): expected postgres://user:password@host:5432/database`;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    return `must start with postgres:// or postgresql:// (got ${parsed.protocol}//)`;
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) return 'has no host: expected postgres://user:password@host:5432/database';
  return undefined;
}
