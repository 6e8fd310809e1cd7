import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import { verifyConnection } from '../core/db/pool';
import { describeTarget } from '../core/db/settings';
import { DatabaseUnavailableError, InputError, PerpsDbError } from '../core/errors';
import type { Logger } from '../core/log';
import type { MigrateReport } from '../core/migrate';
import type { OperationId, OperationReport } from '../core/operations';
import type { PartitionsReport } from '../core/partitions';
import { urlTarget } from '../middleware/connection';
import { createOperationHandler, type OperationHandler, type OperationHandlerOptions } from '../middleware/operation-handler';
import { sslOptions } from '../middleware/tls';
import { type Invocation, parseCommandLine, USAGE } from './commands';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './embedded';
import { localLambdaContext, NO_DEADLINE_MS } from './lambda-context';
import { LocalMetrics } from './metrics';
import { renderReport } from './render';
import { loadEnvironment, resolveSettings } from './settings';

export interface CliIo {
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  version: string;
}

/**
 * The local runner: flags -> event -> the Lambda handlers (same middleware chain, a Lambda-like
 * context) -> table or JSON. Returns the exit code; the
 * mapping from errors to exit codes lives here and nowhere else.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  // Messages are built from masked URLs; this is the second line of defence for stderr, for a
  // password that some library message might echo. Short passwords are skipped: replacing every
  // "1" or "pg" would garble the output and hide nothing.
  const secrets: string[] = [];
  const redact = (text: string) => secrets.reduce((out, secret) => out.replaceAll(secret, '***'), text);
  const stderr = (line: string) => io.stderr.write(`${redact(line)}\n`);
  let format: 'table' | 'json' = 'table';
  const handlers: OperationHandler[] = [];
  let embedded: EmbeddedDatabase | undefined;
  let urlSource: string | undefined;
  const print = (report: OperationReport) =>
    io.stdout.write(`${format === 'json' ? JSON.stringify(report, null, 2) : renderReport(report)}\n`);

  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (parsed.kind === 'version') {
      io.stdout.write(`perps-stats-db ${io.version}\n`);
      return 0;
    }
    format = parsed.format;
    const environment = loadEnvironment(io.cwd, io.env);
    const settings = resolveSettings(parsed.databaseUrl, io.cwd, environment.values, environment.fromDotenv);
    urlSource = settings.urlSource;
    const password = settings.url ? safePassword(settings.url) : '';
    if (password.length >= 6) secrets.push(password, encodeURIComponent(password));

    refuseUnconfirmableTruncate(parsed.invocation, io);

    let url = settings.url;
    if (!url) {
      stderr(`no --database-url or DATABASE_URL: using the embedded PostgreSQL (PGlite) in ${settings.embeddedDir}`);
      embedded = await startEmbeddedDatabase(settings.embeddedDir);
      url = embedded.url;
    }
    if (truncating(parsed.invocation)) {
      // The name to confirm comes from the server, before the handler runs; every other command
      // lets the handler connect (and check the connection) once.
      // With the handlers' TLS settings (DB_SSL, DB_SSL_CA_FILE), which win over the URL's sslmode.
      const target = urlTarget(url, settings.ssl);
      const ssl = target.sslMode && sslOptions(target.sslMode, settings.sslCaFile);
      const database = await verifyConnection(target.url, settings.connectTimeoutMs, ssl);
      await confirmTruncate(parsed.invocation, database, settings.url ? describeTarget(settings.url) : 'the embedded database', io, stderr);
    }
    const log = stderrLogger(stderr, settings.logLevel);
    const handlerOptions: OperationHandlerOptions = {
      env: { ...settings.handlerEnv, DATABASE_URL: url },
      log,
      metrics: new LocalMetrics((emf) => log.debug(`metrics ${emf}`)),
      progress: io.stderr.isTTY ? (message) => stderr(`… ${message}`) : undefined,
    };
    const invoke = async (operation: OperationId, event: object) => {
      const handler = createOperationHandler(operation, handlerOptions);
      handlers.push(handler);
      // No deadline on the command line: a long prune runs to the end.
      return handler(event, localLambdaContext(`perps-stats-db-local-${operation}`, NO_DEADLINE_MS));
    };
    const { invocation } = parsed;
    if (invocation.command === 'init') {
      const migrated = (await invoke('migrate', {})) as MigrateReport;
      const partitions = (await invoke('partitions', invocation.event)) as PartitionsReport;
      print({ operation: 'init', migrate: migrated, partitions });
    } else {
      print(await invoke(invocation.command, invocation.event));
    }
    return 0;
  } catch (error) {
    if (error instanceof PerpsDbError) {
      if (error.report) print(error.report as OperationReport);
      const where = error instanceof DatabaseUnavailableError && urlSource ? ` (URL from ${urlSource})` : '';
      stderr(`error: ${error.message}${where}`);
      return error.exitCode;
    }
    stderr(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    for (const handler of handlers) await handler.close();
    await embedded?.stop().catch(() => undefined);
  }
}

/** A truncate that will run: it needs the database name as confirmation. */
function truncating(invocation: Invocation): invocation is Extract<Invocation, { command: 'prune' }> {
  return invocation.command === 'prune' && Boolean(invocation.event.truncate) && !invocation.event.dryRun;
}

/** Without --yes and without a terminal to ask on, --truncate is refused before connecting. */
function refuseUnconfirmableTruncate(invocation: Invocation, io: CliIo): void {
  if (!truncating(invocation) || invocation.yes) return;
  if (!io.stdin.isTTY) {
    throw new InputError(
      '--truncate empties markets and every data table: pass --yes to confirm (stdin is not a terminal, so there is no prompt)',
    );
  }
}

/**
 * `--truncate` needs the database name (as the server reports it) as confirmation: `--yes`
 * supplies it, a terminal is asked for it. Runs after connecting, before anything changes.
 */
async function confirmTruncate(
  invocation: Extract<Invocation, { command: 'prune' }>,
  database: string,
  target: string,
  io: CliIo,
  stderr: (line: string) => void,
) {
  if (invocation.yes) {
    invocation.event.confirm = database;
    return;
  }
  stderr(`--truncate empties markets and every data table of ${target}.`);
  const prompt = createInterface({ input: io.stdin, output: io.stderr });
  const answer = (await prompt.question(`Type the database name (${database}) to confirm: `)).trim();
  prompt.close();
  if (answer !== database) throw new InputError(`not confirmed (typed "${answer}", expected "${database}"): nothing was changed`);
  invocation.event.confirm = answer;
}

function safePassword(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function stderrLogger(stderr: (line: string) => void, level: (typeof LEVELS)[number]): Logger {
  const threshold = LEVELS.indexOf(level);
  const write = (at: (typeof LEVELS)[number]) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(at) < threshold) return;
    stderr(`${at}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
  };
  // The only error-level lines come from the handler's outcome log (for CloudWatch); the runner
  // reports the failure itself as its last stderr line, so here they are info, not a duplicate.
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('info') };
}
