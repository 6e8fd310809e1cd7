import { createInterface } from 'node:readline/promises';
import type { Operation, OperationReport } from '../operations/registry';
import { InputError } from '../shared/errors';
import type { Confirm, Invocation, Step } from './invocation';
import type { RunnerOutput } from './output';
import { renderReport } from './render';
import type { CliIo, Runner } from './runner';
import { scheduledDefaults } from './scheduled-defaults';
import { conflictingTargets, type RunnerSettings } from './settings';

/**
 * Whether a step destroys data, so that it runs only with the database name as confirmation.
 * A dry run destroys nothing, but `--yes` may still come with it.
 */
export function needsConfirmation({ operation, payload }: Step, { dryRunToo = false } = {}): boolean {
  const { confirmation } = operation;
  return confirmation !== undefined && payload[confirmation.field] === true && (dryRunToo || !payload.dryRun);
}

/** The flag that asks for an operation's run that needs confirmation: `--truncate`. */
export function confirmationFlag(operation: Operation): string {
  const field = operation.confirmation?.field;
  const flag = Object.entries(operation.cli.flags ?? {}).find(([, flag]) => flag.field === field)?.[0];
  return `--${flag ?? field}`;
}

/** --yes with nothing for it to confirm (`clean --yes` without --truncate) is refused: it names the flag it confirms. */
export function refuseNeedlessYes(steps: readonly Step[], yes: boolean): void {
  const confirmable = steps.find((step) => step.operation.confirmation);
  if (yes && confirmable && !steps.some((step) => needsConfirmation(step, { dryRunToo: true }))) {
    throw new InputError(`--yes only confirms ${confirmationFlag(confirmable.operation)}`);
  }
}

/** Without --yes and without a terminal to ask on, a run that destroys data is refused before connecting. */
export function refuseUnconfirmable(invocation: Invocation, io: CliIo): void {
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
export function refuseAmbiguousTarget(
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

/** How this run confirms a step that destroys data on `target`: --yes, or the prompt. */
export function confirmer(invocation: Invocation, target: string, { io, output }: Runner): Confirm {
  return (step, preview) => (invocation.yes ? confirmedByYes(step, preview, target, output) : confirm(step, preview, target, io, output));
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

/** The database a report was made on, as the server names it. */
function databaseOf(report: OperationReport): string {
  if ('database' in report && typeof report.database === 'string') return report.database;
  throw new Error(`the ${report.operation} report names no database to confirm`);
}
