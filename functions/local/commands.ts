import { type ParseArgsConfig, parseArgs } from 'node:util';
import { InputError } from '../core/errors';
import type { CommandLine, Flag } from '../core/operation-definition';
import { DAYS_AHEAD, OPERATIONS, type Operation } from '../core/operations';
import { parseOrThrow, readDecimal } from '../core/parse';

export type OutputFormat = 'table' | 'json';

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
}

/** --help, --version, or an invocation to run and how to print it. */
export type ParsedCommandLine =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; invocation: Invocation; format: OutputFormat; databaseUrl: string | undefined };

/** A runner command: the operations it invokes, in order, each with the flags that fill its payload. */
interface Command {
  name: string;
  aliases: readonly string[];
  steps: readonly { operation: Operation; flags: Readonly<Record<string, Flag>> }[];
  usage: CommandLine['usage'];
}

/** `init` is no operation of its own: the migrate handler, then the partitions handler. */
const INIT: Command = {
  name: 'init',
  aliases: [],
  steps: [
    { operation: OPERATIONS.migrate, flags: {} },
    { operation: OPERATIONS.partitions, flags: { 'create-partitions-days': { field: 'daysAhead', kind: 'number' } } },
  ],
  usage: {
    synopsis: 'init [--create-partitions-days N]',
    summary: `migrate, then create partitions (N days, default ${DAYS_AHEAD.default})`,
  },
};

function operationCommand(operation: Operation): Command {
  const { aliases = [], flags = {}, usage } = operation.cli;
  return { name: operation.id, aliases, steps: [{ operation, flags }], usage };
}

/** Every command, in the order --help lists them: init, then the registry's operations. */
const COMMANDS: readonly Command[] = [INIT, ...Object.values(OPERATIONS).map(operationCommand)];
const COMMAND_BY_NAME = new Map(COMMANDS.flatMap((command) => [command.name, ...command.aliases].map((name) => [name, command])));

const GLOBAL_OPTIONS = {
  'database-url': { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];
/** Confirms, without a prompt, a run that destroys data (commands with a confirmation only). */
const YES = 'yes';

const commandFlags = (command: Command) => command.steps.flatMap((step) => Object.entries(step.flags));

/** Each command's name, aliases and flags: README's Commands table lists each, and a test holds the two together. */
export const COMMAND_FLAGS = COMMANDS.map((command) => ({
  name: command.name,
  aliases: command.aliases,
  flags: commandFlags(command).map(([flag]) => flag),
}));
const confirmable = (command: Command) => command.steps.some((step) => step.operation.confirmation);

const OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  ...GLOBAL_OPTIONS,
  ...Object.fromEntries(
    COMMANDS.flatMap(commandFlags).map(([flag, { kind }]) => [flag, { type: kind === 'number' ? 'string' : 'boolean' }]),
  ),
  ...(COMMANDS.some(confirmable) ? { [YES]: { type: 'boolean' } } : {}),
};

/** How the commands are named in messages: `clean (prune)`. */
const COMMAND_LIST = COMMANDS.map((command) => (command.aliases[0] ? `${command.aliases[0]} (${command.name})` : command.name)).join(', ');

/** --help: every command, from the registry (and init). */
export const USAGE = `perps-stats-db: create, maintain and watch the perps-stats PostgreSQL database

Usage: npm run local -- [db] <command> [flags]

Commands:
${COMMANDS.map(usageLines).join('\n')}

Global flags:
  --database-url URL   PostgreSQL URL (else DATABASE_URL from .env, else from the environment,
                       else an embedded PostgreSQL in .pglite/)
  --format table|json  output format (default table); json prints the report alone on stdout
  --help, --version`;

function usageLines({ name, aliases, usage }: Command): string {
  const synopsis = usage.synopsis ?? [...aliases, name].join(' | ');
  return [`  ${synopsis.padEnd(36)}${usage.summary}`, ...(usage.flags ?? []).map(([flag, help]) => `      ${flag.padEnd(32)}${help}`)].join(
    '\n',
  );
}

/** Parses argv into one invocation; every problem is an InputError raised before any connection. */
export function parseCommandLine(argv: string[]): ParsedCommandLine {
  const { values, positionals: given } = readArguments(argv);
  const positionals = given[0] === 'db' ? given.slice(1) : given;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (positionals.length === 0) throw new InputError(`no command given: use one of ${COMMAND_LIST}; see --help`);
  const [name = '', ...extra] = positionals;
  const command = COMMAND_BY_NAME.get(name);
  if (!command) throw new InputError(`unknown command "${name}": use one of ${COMMAND_LIST}; see --help`);
  if (extra.length > 0) throw new InputError(`unexpected argument "${extra[0]}" after ${name}; see --help`);

  const allowed = new Set([...Object.keys(GLOBAL_OPTIONS), ...commandFlags(command).map(([flag]) => flag)]);
  if (confirmable(command)) allowed.add(YES);
  const problems = Object.keys(values)
    .filter((flag) => !allowed.has(flag))
    .map((flag) => `--${flag} is not an option of ${name}; see --help`);
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') problems.push(`--format must be table or json, got "${format}"`);
  if (problems.length > 0) throw new InputError(problems);

  return {
    kind: 'run',
    invocation: buildInvocation(command, values),
    format: format as OutputFormat,
    databaseUrl: typeof values['database-url'] === 'string' ? values['database-url'] : undefined,
  };
}

type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** node:util parseArgs, its messages said in the runner's words. */
function readArguments(argv: string[]): { values: FlagValues; positionals: string[] } {
  try {
    return parseArgs({ args: attachFlagValues(argv), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    if (error instanceof InputError) throw error;
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
    if (unknown) throw new InputError(`unknown flag ${unknown}; see --help`);
    // Node says "Option '-h, --help' does not take an argument"; say it in the flag's own name.
    const switchFlag = /Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(message)?.[1];
    if (switchFlag) throw new InputError(`${switchFlag} takes no value: give ${switchFlag} alone; see --help`);
    throw new InputError(`${message.split('\n')[0]}; see --help`);
  }
}

/** Each step's payload from the flags, checked by its operation's schema and named in flag words. */
function buildInvocation(command: Command, values: FlagValues): Invocation {
  const steps = command.steps.map(({ operation, flags }) => {
    const flagOf = new Map(Object.entries(flags).map(([flag, { field }]) => [field, `--${flag}`]));
    const payload = Object.fromEntries(
      Object.entries(flags).flatMap(([flag, { field, kind }]) => {
        const value = flagValue(values[flag], kind);
        return value === undefined ? [] : [[field, value]];
      }),
    );
    return { operation, payload: parseOrThrow(operation.payload, payload, { rename: (key) => flagOf.get(key) ?? key }) };
  });
  const yes = values[YES] === true;
  const confirmable = steps.find((step) => step.operation.confirmation);
  if (yes && confirmable && !steps.some((step) => needsConfirmation(step, { dryRunToo: true }))) {
    throw new InputError(`--yes only confirms ${confirmationFlag(confirmable.operation)}`);
  }
  return { command: command.name, steps, yes };
}

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

/** A switch is true when given; a number is plain decimal digits (anything else is NaN, which the schema rejects with its message). */
function flagValue(raw: FlagValues[string], kind: Flag['kind']): number | boolean | undefined {
  if (kind === 'switch') return raw === true ? true : undefined;
  return typeof raw === 'string' ? readDecimal(raw) : undefined;
}

/**
 * `--days -3` is a value, not a flag: attach it (`--days=-3`) so the schema can say what is
 * wrong with it; a value-taking flag with nothing after it gets its own message, and so does a
 * flag given twice (which value was meant is a guess we do not make).
 */
function attachFlagValues(argv: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    const name = token.startsWith('--') ? token.split('=')[0] : undefined;
    if (name && name !== '--') {
      if (seen.has(name)) throw new InputError(`${name} is given more than once; give it once`);
      seen.add(name);
    }
    const flag = token.startsWith('--') && !token.includes('=') ? token.slice(2) : undefined;
    if (!flag || OPTIONS[flag]?.type !== 'string') {
      out.push(token);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith('-') && !/^-[\d.]/.test(next))) {
      throw new InputError(`${token} needs a value; see --help`);
    }
    out.push(`${token}=${next}`);
    i++;
  }
  return out;
}
