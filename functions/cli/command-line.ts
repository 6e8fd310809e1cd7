import { InputError } from '../shared/errors';
import { readArguments } from './arguments';
import { commandNamed, noCommandError } from './commands';
import type { CommandRun } from './runner';
import { helpFor } from './usage';

/** --help (the whole list, or one command's), --version, or a command to run. */
export type ParsedCommandLine = { kind: 'help'; text: string } | { kind: 'version' } | CommandRun;

/** Parses argv into what to do; every problem is an InputError raised before any connection. */
export function parseCommandLine(argv: string[], cwd = process.cwd(), env: Record<string, string | undefined> = {}): ParsedCommandLine {
  const { values, positionals: given } = readArguments(argv);
  const positionals = given[0] === 'db' ? given.slice(1) : given;
  if (positionals[0] === 'help') {
    const [, topic, extra] = positionals;
    if (extra !== undefined) throw new InputError(`unexpected argument "${extra}" after help ${topic}; see --help`);
    return { kind: 'help', text: helpFor(topic) };
  }
  if (values.help) return { kind: 'help', text: helpFor(positionals[0]) };
  if (values.version) return { kind: 'version' };
  const [name, ...rest] = positionals;
  if (name === undefined) throw noCommandError();
  return commandNamed(name).parse({ name, positionals: rest, values, cwd, env });
}
