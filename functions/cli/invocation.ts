import type { Operation, OperationReport } from '../operations/registry';
import { describeTarget } from '../shared/db/settings';
import { confirmer, needsConfirmation, refuseAmbiguousTarget, refuseUnconfirmable } from './confirmation';
import type { Runner } from './runner';
import { type RunnerSettings, resolveSettings, targetLines } from './settings';

/** One handler invocation: an operation and its payload, already checked against its schema. */
export interface Step {
  operation: Operation;
  payload: Record<string, unknown>;
}

/** What a command line asks for: the invocations, in order. */
export interface Invocation {
  /** The command as its report names it: `init`, or the operation id. */
  command: string;
  steps: Step[];
  /** --yes: a run that destroys data is confirmed without a prompt. */
  yes: boolean;
  /** Handler environment variables set by flags (`--to DIR`: ARCHIVE_DIR), over the runner's own. */
  environment?: Readonly<Record<string, string>>;
  /**
   * `invoke`: the payloads go to the handlers unchecked, as Lambda events; the handler checks
   * them, and a run that destroys data carries its own `confirm` (no preview, no prompt).
   */
  raw?: boolean;
}

/** Asks for the database name a run that destroys data must carry, given the dry run's report. */
export type Confirm = (step: Step, preview: OperationReport) => Promise<string>;

/** Runs an invocation's steps through the handlers, on the configured or embedded database, and prints the reports. */
export async function runInvocation(invocation: Invocation, databaseUrl: string | undefined, runner: Runner): Promise<number> {
  const { output, handlers } = runner;
  const settings = resolveChecked(invocation, databaseUrl, runner);
  handlers.stop = interruptible(invocation, runner);
  for (const line of targetLines(settings, runner.environment.overridden)) output.error(line);
  const url = settings.url ?? (await handlers.startEmbedded(settings.embeddedDir, output));
  await handlers.configure(settings, url, output);
  const target = settings.url ? describeTarget(settings.url) : 'the embedded database';
  const reports = await runSteps(invocation, runner, confirmer(invocation, target, runner));
  output.print(invocation.command, reports);
  return 0;
}

/** The run's settings (flags' variables over the environment), once no confirmation rule refuses it. */
function resolveChecked(invocation: Invocation, databaseUrl: string | undefined, runner: Runner): RunnerSettings {
  const { io, environment, output } = runner;
  const values = { ...environment.values, ...invocation.environment };
  const settings = resolveSettings(databaseUrl, io.cwd, values, environment.fromDotenv);
  runner.settings = settings;
  output.redactPasswordOf(settings.url);
  refuseUnconfirmable(invocation, io);
  refuseAmbiguousTarget(invocation, settings, environment.overridden, values);
  return settings;
}

/**
 * A run of `partitions` (or `init`) that Ctrl-C or SIGTERM kills mid-recovery leaves rows out
 * of sight and nobody told: so the first signal asks it to stop before its next step, and it
 * then says which rows wait and what to run (exit code 130). A second one kills it at once
 * (main.ts listens only once). Other commands keep Node's default: a prompt must stay
 * interruptible.
 */
function interruptible(invocation: Invocation, { io, output }: Runner): AbortSignal | undefined {
  if (!invocation.steps.some((step) => step.operation.id === 'partitions')) return undefined;
  const stop = io.stopSignal?.();
  stop?.addEventListener('abort', () =>
    output.error('interrupted: stopping before the next step, then saying what waits (interrupt again to kill it at once)'),
  );
  return stop;
}

/** Runs the steps in order, each through its handler; a step that destroys data is previewed and confirmed first. */
async function runSteps(invocation: Invocation, { handlers }: Runner, confirmStep: Confirm): Promise<OperationReport[]> {
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
