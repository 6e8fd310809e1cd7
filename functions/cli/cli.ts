import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import pg from 'pg';
import { createOperationHandler, type OperationHandler, type OperationHandlerOptions } from '../lambda/operation-handler';
import type { Operation, OperationReport } from '../operations/registry';
import { connectionConfig, toUnavailableError } from '../shared/db/pool';
import { DEFAULT_CONNECTION_SETTINGS, describeTarget, parseDatabaseUrl } from '../shared/db/settings';
import { DatabaseUnavailableError, InputError, PerpsDbError } from '../shared/errors';
import type { Logger } from '../shared/log';
import { terminalJson } from '../shared/printable';
import {
  confirmationFlag,
  type Invocation,
  needsConfirmation,
  type OutputFormat,
  parseCommandLine,
  type Step,
  scheduledDefaults,
} from './commands';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './embedded';
import { localLambdaContext, NO_DEADLINE_MS } from './lambda-context';
import { LocalMetrics } from './metrics';
import { renderReport } from './render';
import { insertSampleData } from './sample-data';
import { serveEmbedded } from './serve';
import { conflictingTargets, loadEnvironment, type RunnerSettings, resolveSettings, targetLines } from './settings';

export interface CliIo {
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  version: string;
  /**
   * A signal that aborts on Ctrl-C or SIGTERM, for `serve` (main.ts installs the handlers only
   * when asked, so every other command keeps Node's default Ctrl-C). None: serve stops at once.
   */
  stopSignal?: () => AbortSignal;
}

/**
 * The local runner: flags -> payloads -> the Lambda handlers (same middleware chain, a
 * Lambda-like context) -> table or JSON. Returns the exit code; the mapping from errors to exit
 * codes lives here and nowhere else.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const output = new RunnerOutput(io);
  const handlers = new HandlerSet();
  let settings: RunnerSettings | undefined;
  try {
    const environment = loadEnvironment(io.cwd, io.env);
    const parsed = parseCommandLine(argv, io.cwd, environment.values);
    if (parsed.kind === 'help') return output.info(parsed.text);
    if (parsed.kind === 'version') return output.info(`perps-stats-db ${io.version}`);
    if (parsed.kind === 'serve') return await serve(parsed, environment, io, output);
    output.format = parsed.format;
    if (parsed.kind === 'sample-data') return await sampleData(parsed, environment, io, output, handlers);
    const values = { ...environment.values, ...parsed.invocation.environment };
    const resolved = resolveSettings(parsed.databaseUrl, io.cwd, values, environment.fromDotenv);
    settings = resolved;
    output.redactPasswordOf(resolved.url);
    refuseUnconfirmable(parsed.invocation, io);
    refuseAmbiguousTarget(parsed.invocation, resolved, environment.overridden, values);
    handlers.stop = interruptible(parsed.invocation, io, output);
    for (const line of targetLines(resolved, environment.overridden)) output.error(line);
    const url = resolved.url ?? (await handlers.startEmbedded(resolved.embeddedDir, output));
    handlers.configure(handlerOptions(resolved, url, io, output));
    const target = resolved.url ? describeTarget(resolved.url) : 'the embedded database';
    const reports = await runSteps(parsed.invocation, handlers, (step, preview) =>
      parsed.invocation.yes ? confirmedByYes(step, preview, target, output) : confirm(step, preview, target, io, output),
    );
    output.print(parsed.invocation.command, reports);
    return 0;
  } catch (error) {
    const code = exitCodeOf(error, output, settings);
    // Stopped by Ctrl-C or SIGTERM: the shell's code for an interrupted command.
    return handlers.stop?.aborted ? 130 : code;
  } finally {
    await handlers.close();
  }
}

/** `serve`: only the embedded database; a configured URL names a server psql can reach already. */
async function serve(
  { port, databaseUrl }: { port: number; databaseUrl: string | undefined },
  environment: ReturnType<typeof loadEnvironment>,
  io: CliIo,
  output: RunnerOutput,
): Promise<number> {
  const settings = resolveSettings(databaseUrl, io.cwd, environment.values, environment.fromDotenv);
  if (settings.url !== undefined) {
    throw new InputError(
      `serve opens the embedded database, but ${settings.urlSource} names a server: connect to that one directly, or unset it to serve the embedded one`,
    );
  }
  await serveEmbedded({
    dir: settings.embeddedDir,
    port,
    signal: io.stopSignal?.() ?? AbortSignal.abort(),
    print: (line) => output.info(line),
    tell: (line) => output.error(line),
  });
  return 0;
}

/** `sample-data`: rows through a plain connection, as the ingester writes them. */
async function sampleData(
  { days, databaseUrl }: { days: number; databaseUrl: string | undefined },
  environment: ReturnType<typeof loadEnvironment>,
  io: CliIo,
  output: RunnerOutput,
  handlers: HandlerSet,
): Promise<number> {
  const settings = resolveSettings(databaseUrl, io.cwd, environment.values, environment.fromDotenv);
  output.redactPasswordOf(settings.url);
  for (const line of targetLines(settings, environment.overridden)) output.error(line);
  const url = settings.url ?? (await handlers.startEmbedded(settings.embeddedDir, output));
  const client = new pg.Client(connectionConfig(url, { connectionTimeoutMillis: DEFAULT_CONNECTION_SETTINGS.connectTimeoutMs }));
  try {
    await client.connect().catch((error: unknown) => {
      throw toUnavailableError(error, url);
    });
    const report = await insertSampleData(client, new Date(), days);
    output.info(
      output.format === 'json'
        ? terminalJson(report, 2)
        : `sample-data ${report.database}: ${days} days of rows inserted: ${Object.entries(report.rows)
            .map(([table, rows]) => `${table}=${rows}`)
            .join(' ')}`,
    );
    return 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The one place errors become exit codes: the error's own, after its report and message. */
function exitCodeOf(error: unknown, output: RunnerOutput, settings: RunnerSettings | undefined): number {
  if (!(error instanceof PerpsDbError)) {
    output.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  // The operation's own report so far: what was done before it failed.
  if (error.report) output.print('', [error.report as OperationReport]);
  const where = error instanceof DatabaseUnavailableError && settings ? ` (URL from ${settings.urlSource})` : '';
  output.error(`error: ${error.message}${where}`);
  return error.exitCode;
}

/** stdout for reports (table or JSON), stderr for everything else, with the URL's password masked. */
class RunnerOutput {
  format: OutputFormat = 'table';
  private readonly secrets: string[] = [];

  constructor(private readonly io: CliIo) {}

  /**
   * Messages are built from masked URLs; this is the second line of defence for stderr, for a
   * password that some library message might echo. Short passwords are skipped: replacing every
   * "1" or "pg" would garble the output and hide nothing.
   */
  redactPasswordOf(url: string | undefined): void {
    const password = url ? safePassword(url) : '';
    if (password.length >= 6) this.secrets.push(password, encodeURIComponent(password));
  }

  error(line: string): void {
    this.io.stderr.write(`${this.secrets.reduce((out, secret) => out.replaceAll(secret, '***'), line)}\n`);
  }

  info(text: string): number {
    this.io.stdout.write(`${text}\n`);
    return 0;
  }

  /** A command's reports: one, or (init) each under its operation's id: `{ operation: 'init', migrate: ..., partitions: ... }`. */
  print(command: string, reports: OperationReport[]): void {
    const [only] = reports;
    const json =
      reports.length === 1 ? only : { operation: command, ...Object.fromEntries(reports.map((report) => [report.operation, report])) };
    // terminalJson: the same JSON, with the C1 controls JSON.stringify leaves raw escaped.
    this.io.stdout.write(`${this.format === 'json' ? terminalJson(json, 2) : reports.map(renderReport).join('\n\n')}\n`);
  }
}

/** The handlers this run invokes, one per operation (its pool serves every invocation), and the embedded database. */
class HandlerSet {
  /** Aborted by Ctrl-C or SIGTERM: the running operation stops before its next step (see interruptible). */
  stop: AbortSignal | undefined;
  private readonly handlers = new Map<string, OperationHandler>();
  private options: OperationHandlerOptions = {};
  private embedded: EmbeddedDatabase | undefined;

  async startEmbedded(dir: string, output: RunnerOutput): Promise<string> {
    output.error(`no --database-url or DATABASE_URL: using the embedded PostgreSQL (PGlite) in ${dir}`);
    this.embedded = await startEmbeddedDatabase(dir);
    return this.embedded.url;
  }

  configure(options: OperationHandlerOptions): void {
    this.options = options;
  }

  /** One invocation; no deadline on the command line: a long prune runs to the end. */
  async invoke(operation: Operation, payload: Record<string, unknown>): Promise<OperationReport> {
    let handler = this.handlers.get(operation.id);
    if (!handler) {
      handler = createOperationHandler(operation, this.options);
      this.handlers.set(operation.id, handler);
    }
    return handler(payload, localLambdaContext(`perps-stats-db-local-${operation.id}`, NO_DEADLINE_MS, this.stop));
  }

  async close(): Promise<void> {
    for (const handler of this.handlers.values()) await handler.close();
    await this.embedded?.stop().catch(() => undefined);
  }
}

function handlerOptions(settings: RunnerSettings, url: string, io: CliIo, output: RunnerOutput): OperationHandlerOptions {
  const log = stderrLogger((line) => output.error(line), settings.logLevel);
  return {
    env: { ...settings.handlerEnv, DATABASE_URL: url },
    log,
    metrics: new LocalMetrics((emf) => log.debug(`metrics ${emf}`)),
    progress: io.stderr.isTTY ? (message) => output.error(`… ${message}`) : undefined,
  };
}

/**
 * A run of `partitions` (or `init`) that Ctrl-C or SIGTERM kills mid-recovery leaves rows out
 * of sight and nobody told: so the first signal asks it to stop before its next step, and it
 * then says which rows wait and what to run (exit code 130). A second one kills it at once
 * (main.ts listens only once). Other commands keep Node's default: a prompt must stay
 * interruptible.
 */
function interruptible(invocation: Invocation, io: CliIo, output: RunnerOutput): AbortSignal | undefined {
  if (!invocation.steps.some((step) => step.operation.id === 'partitions')) return undefined;
  const stop = io.stopSignal?.();
  stop?.addEventListener('abort', () =>
    output.error('interrupted: stopping before the next step, then saying what waits (interrupt again to kill it at once)'),
  );
  return stop;
}

/** Asks for the database name a run that destroys data must carry, given the dry run's report. */
type Confirm = (step: Step, preview: OperationReport) => Promise<string>;

/** Runs the steps in order, each through its handler; a step that destroys data is previewed and confirmed first. */
async function runSteps(invocation: Invocation, handlers: HandlerSet, confirmStep: Confirm): Promise<OperationReport[]> {
  const reports: OperationReport[] = [];
  for (const step of invocation.steps) {
    if (invocation.raw || !needsConfirmation(step)) {
      reports.push(await handlers.invoke(step.operation, step.payload));
      continue;
    }
    // The handler itself says which database it reaches and what would go: a dry run first.
    const preview = await handlers.invoke(step.operation, { ...step.payload, dryRun: true });
    const confirmed = await confirmStep(step, preview);
    reports.push(await handlers.invoke(step.operation, { ...step.payload, confirm: confirmed }));
  }
  return reports;
}

/** The database a report was made on, as the server names it. */
function databaseOf(report: OperationReport): string {
  if ('database' in report && typeof report.database === 'string') return report.database;
  throw new Error(`the ${report.operation} report names no database to confirm`);
}

/** Without --yes and without a terminal to ask on, a run that destroys data is refused before connecting. */
function refuseUnconfirmable(invocation: Invocation, io: CliIo): void {
  if (invocation.yes || invocation.raw || io.stdin.isTTY) return;
  const step = invocation.steps.find((s) => needsConfirmation(s));
  if (!step) return;
  throw new InputError(
    `${confirmationFlag(step.operation)} ${step.operation.confirmation?.effect}: pass --yes to confirm (stdin is not a terminal, so there is no prompt)`,
  );
}

/**
 * A run that deletes, drops or replaces rows is refused, before connecting, while .env and the
 * environment name different databases: .env wins (the documented order), but a .env left in a
 * folder must not send a destructive run to a database the caller did not mean. --database-url
 * names the target without doubt.
 */
function refuseAmbiguousTarget(
  invocation: Invocation,
  settings: RunnerSettings,
  overridden: Readonly<Record<string, string>>,
  env: Record<string, string | undefined>,
): void {
  const conflict = conflictingTargets(settings, overridden);
  if (!conflict) return;
  // A raw invoke gets the scheduled defaults (PRUNE_*) from the handler, as in Lambda: judge the payload it will run.
  const step = invocation.steps.find(({ operation, payload }) =>
    operation.destroysData?.({ ...scheduledDefaults(operation, payload, env), ...payload }),
  );
  if (!step) return;
  throw new InputError(
    `${invocation.raw ? `invoke ${step.operation.id}` : (step.operation.cli.aliases?.[0] ?? step.operation.id)} would delete or replace rows, but DATABASE_URL in .env (${conflict.dotenv}) and DATABASE_URL in the environment (${conflict.environment}) name different databases, and .env wins: nothing was changed; give the database to change with --database-url, or make the two agree`,
  );
}

/** --yes: no prompt, but the run still says which database it is about to empty. */
async function confirmedByYes(step: Step, preview: OperationReport, target: string, output: RunnerOutput): Promise<string> {
  const database = databaseOf(preview);
  output.error(
    `${confirmationFlag(step.operation)} ${step.operation.confirmation?.effect} of ${target}: confirmed by --yes (database ${database}).`,
  );
  return database;
}

/**
 * Shows what the dry run found, then asks for the database name (as the server reports it);
 * anything else typed changes nothing.
 */
async function confirm(step: Step, preview: OperationReport, target: string, io: CliIo, output: RunnerOutput): Promise<string> {
  const database = databaseOf(preview);
  output.error(renderReport(preview));
  output.error(`${confirmationFlag(step.operation)} ${step.operation.confirmation?.effect} of ${target}.`);
  const prompt = createInterface({ input: io.stdin, output: io.stderr });
  const answer = (await prompt.question(`Type the database name (${database}) to confirm: `)).trim();
  prompt.close();
  if (answer !== database) throw new InputError(`not confirmed (typed "${answer}", expected "${database}"): nothing was changed`);
  return answer;
}

function safePassword(url: string): string {
  try {
    return decodeURIComponent(parseDatabaseUrl(url).password);
  } catch {
    return '';
  }
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function stderrLogger(stderr: (line: string) => void, level: (typeof LEVELS)[number]): Logger {
  const threshold = LEVELS.indexOf(level);
  const write = (at: (typeof LEVELS)[number]) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(at) < threshold) return;
    stderr(`${at}: ${message}${fields ? ` ${terminalJson(fields)}` : ''}`);
  };
  // The only error-level lines come from the handler's outcome log (for CloudWatch); the runner
  // reports the failure itself as its last stderr line, so here they are info, not a duplicate.
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('info') };
}
