import type { Operation } from '../../operations/registry';
import { InputError } from '../../shared/errors';
import type { CommandLine } from '../../shared/operation-definition';
import { commandHelp } from '../command-help';
import { runInvocation } from '../invocation';
import { databaseUrlOf, GLOBAL_OPTIONS, optionProblems, YES } from '../options';
import { buildInvocation, type CommandStep } from '../payloads';
import type { RunnerCommand } from '../runner';

/** A command that runs registry operations in order, each with the flags that fill its payload. */
export interface StepsCommandSpec {
  name: string;
  aliases: readonly string[];
  steps: readonly CommandStep[];
  usage: CommandLine['usage'];
}

/** An operation's own command, from its registry entry: `stats`, `clean (prune)`. */
export function operationCommand(operation: Operation): RunnerCommand {
  const { aliases = [], flags = {}, usage } = operation.cli;
  return stepsCommand({ name: operation.id, aliases, steps: [{ operation, flags }], usage });
}

/** The runner command of a spec: its flags, help, and a run through the handlers. */
export function stepsCommand(spec: StepsCommandSpec): RunnerCommand {
  const flags = spec.steps.flatMap((step) => Object.entries(step.flags));
  const confirmable = spec.steps.some((step) => step.operation.confirmation);
  const options = Object.fromEntries([
    ...flags.map(([flag, { kind }]) => [flag, { type: kind === 'switch' ? 'boolean' : 'string' }] as const),
    ...(confirmable ? [[YES, { type: 'boolean' }] as const] : []),
  ]);
  const accepts = [...Object.keys(GLOBAL_OPTIONS), ...Object.keys(options)];
  return {
    name: spec.name,
    aliases: spec.aliases,
    options,
    accepts,
    usage: spec.usage,
    help: () => commandHelp(spec),
    parse({ name, positionals, values, cwd, env }) {
      if (positionals.length > 0) throw new InputError(`unexpected argument "${positionals[0]}" after ${name}; see --help`);
      const { problems, format } = optionProblems(values, accepts, name);
      if (problems.length > 0) throw new InputError(problems);
      const invocation = buildInvocation(spec, values, env, cwd);
      const databaseUrl = databaseUrlOf(values);
      return { kind: 'run', invocation, format, databaseUrl, run: (runner) => runInvocation(invocation, databaseUrl, runner) };
    },
  };
}
