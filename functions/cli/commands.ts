import type { ParseArgsConfig } from 'node:util';
import { OPERATIONS } from '../operations/registry';
import { InputError } from '../shared/errors';
import { INIT_COMMAND } from './commands/init';
import { INVOKE_COMMAND } from './commands/invoke';
import { operationCommand } from './commands/operation';
import { SAMPLE_DATA_COMMAND } from './commands/sample-data';
import { SERVE_COMMAND } from './commands/serve';
import { suggest } from './did-you-mean';
import { GLOBAL_OPTIONS, YES } from './options';
import type { RunnerCommand } from './runner';

/**
 * Every command of the runner, in the order --help lists them: the registry's operations, with
 * the runner's own commands around them. --help, the flags argv may hold, the unknown-command
 * message and the dispatch are all read from this list.
 */
export const COMMANDS: readonly RunnerCommand[] = [
  INIT_COMMAND,
  ...Object.values(OPERATIONS).map(operationCommand),
  INVOKE_COMMAND,
  SERVE_COMMAND,
  SAMPLE_DATA_COMMAND,
];

const COMMAND_BY_NAME = new Map(COMMANDS.flatMap((command) => [command.name, ...command.aliases].map((name) => [name, command])));

/** Every flag of every command, as node:util parseArgs reads argv. */
export const RUNNER_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  ...GLOBAL_OPTIONS,
  ...Object.fromEntries(COMMANDS.flatMap((command) => Object.entries(command.options))),
};

/** How the commands are named in messages: `clean (prune)`. */
const COMMAND_LIST = COMMANDS.map(({ name, aliases }) => (aliases[0] ? `${aliases[0]} (${name})` : name)).join(', ');

/** Each command's name, aliases and flags: README's Commands table lists each, and a test holds the two together. */
export const COMMAND_FLAGS = COMMANDS.map(({ name, aliases, options }) => ({
  name,
  aliases,
  // --yes is documented with the flag it confirms, not as a flag of its own.
  flags: Object.keys(options).filter((flag) => flag !== YES),
}));

/** The command of that name or alias; an unknown one is refused with the list (and the nearest name). */
export function commandNamed(name: string): RunnerCommand {
  const command = COMMAND_BY_NAME.get(name);
  if (command) return command;
  throw new InputError(`unknown command "${name}"${suggest(name, [...COMMAND_BY_NAME.keys()])}: use one of ${COMMAND_LIST}; see --help`);
}

/** With no command named: the message that asks for one. */
export function noCommandError(): InputError {
  return new InputError(`no command given: use one of ${COMMAND_LIST}; see --help`);
}

/** The flags the command named in argv takes (every flag of the runner when none says): what a mistyped flag may have meant. */
export function flagsOfCommandIn(argv: readonly string[]): readonly string[] {
  const accepts = argv.map((word) => COMMAND_BY_NAME.get(word)?.accepts).find((found) => found !== undefined);
  return accepts ?? Object.keys(RUNNER_OPTIONS);
}
