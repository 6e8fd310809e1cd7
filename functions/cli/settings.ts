import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import dotenv from 'dotenv';
import * as z from 'zod';
import { parseHandlerEnvironment } from '../lambda/environment';
import { describeLogin, describeTarget, parseDatabaseUrl, urlProblem } from '../shared/db/settings';
import { InputError } from '../shared/errors';
import { parseOrThrow } from '../shared/parse';

/**
 * The runner's environment: the process environment overlaid with `.env` from the working
 * directory (the file wins, as the database guide says, so a project's .env is what runs),
 * and which keys came from the file, for messages.
 */
export function loadEnvironment(
  cwd: string,
  env: NodeJS.ProcessEnv,
): { values: Record<string, string | undefined>; fromDotenv: Set<string>; overridden: Record<string, string> } {
  const file = join(cwd, '.env');
  const fromFile = existsSync(file) ? dotenv.parse(readFileSync(file)) : {};
  // A variable set in the environment and, differently, in .env: the file wins, and the run says so.
  const overridden = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => {
      const [key, value] = entry;
      return value !== undefined && value !== '' && key in fromFile && fromFile[key] !== value;
    }),
  );
  return { values: { ...env, ...fromFile }, fromDotenv: new Set(Object.keys(fromFile)), overridden };
}

/**
 * The stderr line that names what a run connects to: host, port, database, user and where the
 * URL came from, never the password; plus a line when .env overrode a different DATABASE_URL.
 */
export function targetLines(settings: RunnerSettings, overridden: Readonly<Record<string, string>>): string[] {
  if (settings.url === undefined) return [];
  const lines = [`target: ${describeLogin(settings.url)} (URL from ${settings.urlSource})`];
  if (settings.urlSource === '--database-url' && hasPassword(settings.url)) lines.push(PASSWORD_ON_COMMAND_LINE);
  const shadowed = overridden.DATABASE_URL;
  if (settings.urlSource === 'DATABASE_URL in .env' && shadowed !== undefined) {
    lines.push(`note: DATABASE_URL in .env overrides DATABASE_URL in the environment (${describeLogin(shadowed)}); .env wins`);
  }
  return lines;
}

/**
 * A command line is visible to every user of the machine (ps, /proc/<pid>/cmdline) while the run
 * lasts; the environment and .env are not. Said on every such run, after the target line.
 */
export const PASSWORD_ON_COMMAND_LINE =
  'warning: the password in --database-url can be read by every user of this machine (ps) while the run lasts: put the URL in .env or in the DATABASE_URL variable, or leave the password out of it and set PGPASSWORD';

function hasPassword(url: string): boolean {
  try {
    return parseDatabaseUrl(url).password !== '';
  } catch {
    return false;
  }
}

/**
 * The two databases when DATABASE_URL in .env (which wins) and DATABASE_URL in the environment
 * name different ones (host, port or database): a run that deletes or replaces rows is refused
 * then, since the file may be left over from another project. Undefined when they agree.
 */
export function conflictingTargets(
  settings: RunnerSettings,
  overridden: Readonly<Record<string, string>>,
): { dotenv: string; environment: string } | undefined {
  const shadowed = overridden.DATABASE_URL;
  if (settings.urlSource !== 'DATABASE_URL in .env' || settings.url === undefined || shadowed === undefined) return undefined;
  if (describeTarget(settings.url) === describeTarget(shadowed)) return undefined;
  return { dotenv: describeLogin(settings.url), environment: describeLogin(shadowed) };
}

const environmentSchema = z.object({
  DATABASE_URL: z.string().optional(),
  PERPS_EMBEDDED_DIR: z.string().optional(),
  PERPS_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error'], { error: 'must be debug, info, warn or error' }).default('warn'),
});

/** The variables only the runner reads (docs/configuration.md lists each; a test holds the two together). */
export const RUNNER_VARIABLES = Object.keys(environmentSchema.shape);

/** Stands in for the URL while the handler settings are checked before the URL is known (embedded). */
const PLACEHOLDER_URL = 'postgres://localhost/placeholder';

export interface RunnerSettings {
  /** Undefined: use the embedded database. */
  url: string | undefined;
  /** Where the URL came from, for messages. */
  urlSource: '--database-url' | 'DATABASE_URL in .env' | 'DATABASE_URL in the environment' | 'embedded';
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  embeddedDir: string;
  /** The environment the handlers get (the runner sets DATABASE_URL per run); already validated. */
  handlerEnv: Record<string, string | undefined>;
}

/** Resolves and validates every setting at once; all problems in one InputError. */
export function resolveSettings(
  flagUrl: string | undefined,
  cwd: string,
  env: Record<string, string | undefined>,
  fromDotenv: ReadonlySet<string> = new Set(),
): RunnerSettings {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  // DATABASE_URL and DB_SECRET_ARN are the runner's to resolve: the handlers get the URL per run.
  const handlerEnv = { ...env, DATABASE_URL: undefined, DB_SECRET_ARN: undefined };
  const runner = parseOrThrow(environmentSchema, present, {
    also: (parsed) => [
      ...urlProblems(flagUrl ?? parsed?.DATABASE_URL, flagUrl !== undefined, fromDotenv, env),
      ...handlerProblems(handlerEnv),
    ],
  });
  const url = flagUrl ?? runner.DATABASE_URL;
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
    logLevel: runner.PERPS_LOG_LEVEL,
    embeddedDir: runner.PERPS_EMBEDDED_DIR ?? join(cwd, '.pglite'),
    handlerEnv,
  };
}

function urlProblems(
  url: string | undefined,
  fromFlag: boolean,
  fromDotenv: ReadonlySet<string>,
  env: Record<string, string | undefined>,
): string[] {
  if (url === undefined) {
    return env.DB_SECRET_ARN
      ? [
          'DB_SECRET_ARN is set, but the local runner connects by URL: give --database-url or DATABASE_URL (the Lambda functions read the secret)',
        ]
      : [];
  }
  const problem = urlProblem(url);
  if (!problem) return [];
  return [`${fromFlag ? '--database-url' : `DATABASE_URL${fromDotenv.has('DATABASE_URL') ? ' (in .env)' : ''}`} ${problem}`];
}

/**
 * The handlers' own settings (timeouts, batch size, ...) are checked now, with the runner's, so
 * every problem is reported at once and before anything starts.
 */
function handlerProblems(handlerEnv: Record<string, string | undefined>): string[] {
  try {
    parseHandlerEnvironment({ ...handlerEnv, DATABASE_URL: PLACEHOLDER_URL });
    return [];
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return error.problems;
  }
}
