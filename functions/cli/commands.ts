import { resolve as resolvePath } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { closest, distance } from 'fastest-levenshtein';
import { DAYS_AHEAD } from '../operations/partitions/definition';
import { OPERATIONS, type Operation } from '../operations/registry';
import { InputError } from '../shared/errors';
import type { CommandLine, Flag } from '../shared/operation-definition';
import { parseOrThrow, readDecimal } from '../shared/parse';
import { INVOKE_HELP, INVOKE_OPTIONS, INVOKE_SUMMARY, INVOKE_SYNOPSIS, parseInvoke } from './invoke-command';
import { SAMPLE_DATA_SUMMARY, SAMPLE_DATA_SYNOPSIS, SAMPLE_DAYS } from './sample-data';
import { servePort } from './serve';

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
  /** Handler environment variables set by flags (`--to DIR`: ARCHIVE_DIR), over the runner's own. */
  environment?: Readonly<Record<string, string>>;
  /**
   * `invoke`: the payloads go to the handlers unchecked, as Lambda events; the handler checks
   * them, and a run that destroys data carries its own `confirm` (no preview, no prompt).
   */
  raw?: boolean;
}

/** --help (the whole list, or one command's), --version, or an invocation to run and how to print it. */
export type ParsedCommandLine =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'serve'; port: number; databaseUrl: string | undefined }
  | { kind: 'sample-data'; days: number; format: OutputFormat; databaseUrl: string | undefined }
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
    // partitions' spelling is accepted here too, so either works with both commands.
    { operation: OPERATIONS.partitions, flags: OPERATIONS.partitions.cli.flags ?? {} },
  ],
  usage: {
    synopsis: 'init [--create-partitions-days N]',
    summary: `migrate, then create partitions (N days, default ${DAYS_AHEAD.default})`,
    flags: [['--create-partitions-days N', `days of partitions from today (UTC), default ${DAYS_AHEAD.default}; --days N is the same`]],
    examples: ['', '--create-partitions-days 14', '--database-url postgres://perps_admin@db.example.com/perps'],
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
export const COMMAND_FLAGS = [
  ...COMMANDS.map((command) => ({
    name: command.name,
    aliases: command.aliases,
    flags: commandFlags(command).map(([flag]) => flag),
  })),
  // The runner's own commands, which run no registry step: see invokeCommandLine, serveCommandLine, sampleDataCommandLine.
  { name: 'invoke', aliases: [], flags: Object.keys(INVOKE_OPTIONS) },
  { name: 'serve', aliases: [], flags: ['port'] },
  { name: 'sample-data', aliases: [], flags: ['days'] },
];
const confirmable = (command: Command) => command.steps.some((step) => step.operation.confirmation);

const OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  ...GLOBAL_OPTIONS,
  ...Object.fromEntries(
    COMMANDS.flatMap(commandFlags).map(([flag, { kind }]) => [flag, { type: kind === 'switch' ? 'boolean' : 'string' }]),
  ),
  ...(COMMANDS.some(confirmable) ? { [YES]: { type: 'boolean' } } : {}),
  ...INVOKE_OPTIONS,
  port: { type: 'string' },
};

/** How the commands are named in messages: `clean (prune)`. */
const COMMAND_LIST = [
  ...COMMANDS.map((command) => (command.aliases[0] ? `${command.aliases[0]} (${command.name})` : command.name)),
  'invoke',
  'serve',
  'sample-data',
].join(', ');

/** --help: every command, from the registry (and init). */
export const USAGE = `perps-stats-db: create, maintain and watch the perps-stats PostgreSQL database

Usage: npm run local -- [db] <command> [flags]

Commands:
${COMMANDS.map(usageLines).join('\n')}
  ${INVOKE_SYNOPSIS.padEnd(36)}${INVOKE_SUMMARY}
  ${'serve [--port N]'.padEnd(36)}keep the embedded database open for psql, an ingester or Grafana; prints its URL
  ${SAMPLE_DATA_SYNOPSIS.padEnd(36)}${SAMPLE_DATA_SUMMARY}
  help <command>, <command> --help    one command's flags, examples, environment and exit codes

Global flags:
  --database-url URL   PostgreSQL URL (else DATABASE_URL from .env, else from the environment,
                       else an embedded PostgreSQL in .pglite/)
  --format table|json  output format (default table); json prints the report alone on stdout
  --help, --version`;

/** What every command may exit with (README, Errors and exit codes). */
const EXIT_CODES = `Exit codes:
  0 done   1 partly done (the report says what)   2 bad input, nothing changed
  3 database unavailable   4 lock busy (another run)   5 migration failed or schema missing
  6 the login lacks a privilege (see "Runs as")   7 an archived object is missing, damaged or disagrees (restore)`;

/** Variables every command reads (docs/configuration.md has them all). */
const COMMON_ENVIRONMENT: readonly (readonly [string, string])[] = [
  ['DATABASE_URL', 'the database (after --database-url and .env; none: the embedded one)'],
  ['DB_SSL, DB_SSL_CA_FILE', 'TLS: disable, require or verify-full; a CA file to trust'],
  ['DB_CONNECT_TIMEOUT_MS', 'longest wait to connect'],
  ['PERPS_LOG_LEVEL', 'debug, info, warn (default) or error, on stderr'],
];

/** `<command> --help` and `help <command>`: from the registry entries the command runs. */
function commandHelp(command: Command): string {
  const { name, aliases, usage } = command;
  const lines = (rows: readonly (readonly [string, string])[]) => rows.map(([left, right]) => `  ${left.padEnd(34)}${right}`);
  const flags = usage.flags ?? [];
  const environment = [
    ...COMMON_ENVIRONMENT,
    ...new Map(command.steps.flatMap((step) => step.operation.cli.usage.environment ?? []).map(([key, text]) => [key, text])),
  ];
  const roles = [...new Set(command.steps.map((step) => step.operation.runsAs ?? 'owner'))];
  return [
    `Usage: npm run local -- ${usage.synopsis ?? [aliases[0] ?? name, ...flags.map(([flag]) => `[${flag}]`)].join(' ')} [--database-url URL] [--format table|json]`,
    ...(aliases.length > 0 ? [`       (also called ${[name, ...aliases.slice(1)].join(', ')})`] : []),
    '',
    usage.summary,
    ...(flags.length > 0 ? ['', 'Flags:', ...lines(flags)] : []),
    '',
    'Examples:',
    ...(usage.examples ?? ['']).map((example) => `  npm run local -- ${[aliases[0] ?? name, example].filter(Boolean).join(' ')}`),
    '',
    'Environment:',
    ...lines(environment),
    '',
    `Runs as: ${roles.includes('owner') ? 'the owner of the tables (the role that ran migrate)' : 'any login with SELECT on the tables (perps_reader)'}`,
    '',
    EXIT_CODES,
  ].join('\n');
}

/** The closest of `candidates` when it is near enough to be a typo of `given` ("partitons"). */
export function didYouMean(given: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(given, [...candidates]);
  return distance(given.toLowerCase(), best.toLowerCase()) <= Math.max(1, Math.floor(given.length / 4)) ? best : undefined;
}

const suggest = (given: string, candidates: readonly string[], show = (name: string) => name) => {
  const near = didYouMean(given, candidates);
  return near === undefined ? '' : ` (did you mean ${show(near)}?)`;
};

function usageLines({ name, aliases, usage }: Command): string {
  const synopsis = usage.synopsis ?? [...aliases, name].join(' | ');
  return [`  ${synopsis.padEnd(36)}${usage.summary}`, ...(usage.flags ?? []).map(([flag, help]) => `      ${flag.padEnd(32)}${help}`)].join(
    '\n',
  );
}

/** Parses argv into one invocation; every problem is an InputError raised before any connection. */
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
  if (positionals.length === 0) throw new InputError(`no command given: use one of ${COMMAND_LIST}; see --help`);
  const [name = '', ...extra] = positionals;
  if (name === INVOKE) return invokeCommandLine(extra, values, cwd);
  if (name === SERVE) return serveCommandLine(extra, values);
  if (name === SAMPLE_DATA) return sampleDataCommandLine(extra, values);
  const command = commandNamed(name);
  if (extra.length > 0) throw new InputError(`unexpected argument "${extra[0]}" after ${name}; see --help`);

  const allowed = [...Object.keys(GLOBAL_OPTIONS), ...commandFlags(command).map(([flag]) => flag), ...(confirmable(command) ? [YES] : [])];
  const { problems, format } = optionProblems(values, allowed, name);
  if (problems.length > 0) throw new InputError(problems);

  return {
    kind: 'run',
    invocation: buildInvocation(command, values, env, cwd),
    format,
    databaseUrl: typeof values['database-url'] === 'string' ? values['database-url'] : undefined,
  };
}

const INVOKE = 'invoke';
const SERVE = 'serve';
const SAMPLE_DATA = 'sample-data';
const SAMPLE_DATA_HELP = `Usage: npm run local -- ${SAMPLE_DATA_SYNOPSIS} [--database-url URL] [--format table|json]

${SAMPLE_DATA_SUMMARY}.
Plain INSERTs into the parent tables, as the ingester (perps_writer) writes: markets, tickers
every minute, order books every 5 minutes, trades every 30 seconds, funding every 8 hours, ingest
events, from N-1 days ago until now. Past days without a partition land in the DEFAULT
partitions, as a late ingester's rows would (\`partitions\` moves them out). Run \`init\` first.

Examples:
  npm run local -- init && npm run local -- sample-data && npm run local -- stats
  npm run local -- sample-data --days 7 --database-url postgres://localhost/perps_dev`;

/** \`sample-data [--days N]\`: rows to look at, in the configured or embedded database. */
function sampleDataCommandLine(args: string[], values: FlagValues): ParsedCommandLine {
  if (args[0] !== undefined) throw new InputError(`unexpected argument "${args[0]}" after sample-data; see sample-data --help`);
  const { problems, format } = optionProblems(values, ['days', 'database-url', 'format'], SAMPLE_DATA);
  const raw = typeof values.days === 'string' ? readDecimal(values.days) : SAMPLE_DAYS.default;
  if (!Number.isInteger(raw) || raw < SAMPLE_DAYS.min || raw > SAMPLE_DAYS.max) {
    problems.push(`--days: must be a whole number of days from ${SAMPLE_DAYS.min} to ${SAMPLE_DAYS.max}`);
  }
  if (problems.length > 0) throw new InputError(problems);
  return {
    kind: 'sample-data',
    days: raw,
    format,
    databaseUrl: typeof values['database-url'] === 'string' ? values['database-url'] : undefined,
  };
}

const SERVE_HELP = `Usage: npm run local -- serve [--port N]

Keeps the embedded database (PGlite, in PERPS_EMBEDDED_DIR, default .pglite/) open on a loopback
port and prints its connection URL on stdout, for psql, an ingester or Grafana, until Ctrl-C or
SIGTERM. The URL carries a password made for this run: PGlite checks none itself, so serve does,
and a client without it is refused. It holds the embedded database's lock meanwhile: other runs
exit with code 4 until it stops.
With a database URL configured (--database-url, .env, DATABASE_URL) there is nothing to serve.

Flags:
  --port N                          the port (default: any free one)

Examples:
  npm run local -- serve --port 5433
  psql 'postgres://postgres:<password it printed>@127.0.0.1:5433/postgres?sslmode=disable'     # in another terminal`;

/** \`serve [--port N]\`: the embedded database, open for other clients. */
function serveCommandLine(args: string[], values: FlagValues): ParsedCommandLine {
  if (args[0] !== undefined) throw new InputError(`unexpected argument "${args[0]}" after serve; see serve --help`);
  const { problems } = optionProblems(values, ['port', 'database-url'], SERVE);
  if (problems.length > 0) throw new InputError(problems);
  return {
    kind: 'serve',
    port: servePort(typeof values.port === 'string' ? values.port : undefined),
    // Taken only to be refused with a reason: serve serves the embedded database.
    databaseUrl: typeof values['database-url'] === 'string' ? values['database-url'] : undefined,
  };
}

/** The whole --help, or one command's. */
function helpFor(topic: string | undefined): string {
  if (topic === undefined) return USAGE;
  if (topic === SERVE) return SERVE_HELP;
  if (topic === SAMPLE_DATA) return SAMPLE_DATA_HELP;
  return topic === INVOKE ? INVOKE_HELP : commandHelp(commandNamed(topic));
}

/** `invoke <function> [--payload JSON | --event FILE]`: one raw handler invocation. */
function invokeCommandLine(args: string[], values: FlagValues, cwd: string): ParsedCommandLine {
  const { problems, format } = optionProblems(values, [...Object.keys(GLOBAL_OPTIONS), ...Object.keys(INVOKE_OPTIONS)], INVOKE);
  if (problems.length > 0) throw new InputError(problems);
  const { operationId, payload } = parseInvoke(args, values, cwd);
  return {
    kind: 'run',
    invocation: {
      command: operationId,
      steps: [{ operation: OPERATIONS[operationId] as Operation, payload: payload as Record<string, unknown> }],
      yes: false,
      raw: true,
    },
    format,
    databaseUrl: typeof values['database-url'] === 'string' ? values['database-url'] : undefined,
  };
}

/** Flags `command` does not take (with the nearest one it does), and a bad --format: every problem, and the format. */
function optionProblems(values: FlagValues, allowed: string[], command: string): { problems: string[]; format: OutputFormat } {
  const problems = Object.keys(values)
    .filter((flag) => !allowed.includes(flag))
    .map((flag) => `--${flag} is not an option of ${command}${suggest(flag, allowed, (near) => `--${near}`)}; see ${command} --help`);
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') problems.push(`--format must be table or json, got "${format}"`);
  return { problems, format: format === 'json' ? 'json' : 'table' };
}

/** The command of that name or alias; an unknown one is refused with the list (and the nearest name). */
function commandNamed(name: string): Command {
  const command = COMMAND_BY_NAME.get(name);
  if (command) return command;
  throw new InputError(
    `unknown command "${name}"${suggest(name, [...COMMAND_BY_NAME.keys(), INVOKE, SERVE, SAMPLE_DATA])}: use one of ${COMMAND_LIST}; see --help`,
  );
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
    if (unknown) {
      const near = unknown.startsWith('--') ? suggest(unknown.slice(2), flagsOfCommandIn(argv), (flag) => `--${flag}`) : '';
      throw new InputError(`unknown flag ${unknown}${near}; see --help`);
    }
    // Node says "Option '-h, --help' does not take an argument"; say it in the flag's own name.
    const switchFlag = /Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(message)?.[1];
    if (switchFlag) throw new InputError(`${switchFlag} takes no value: give ${switchFlag} alone; see --help`);
    throw new InputError(`${message.split('\n')[0]}; see --help`);
  }
}

/** The flags the command named in argv takes (every flag when none is named): what a mistyped flag may have meant. */
function flagsOfCommandIn(argv: string[]): string[] {
  const command = argv.map((word) => COMMAND_BY_NAME.get(word)).find((found) => found !== undefined);
  if (!command) return Object.keys(OPTIONS);
  return [...Object.keys(GLOBAL_OPTIONS), ...commandFlags(command).map(([flag]) => flag), ...(confirmable(command) ? [YES] : [])];
}

/** Each step's payload from the flags, checked by its operation's schema and named in flag words. */
/**
 * A dry run that names no action (`clean --dry-run`) previews what the scheduled function does:
 * the payload defaults its environment variables (PRUNE_*) set, as the handler would fill them
 * in. Only a dry run: a real run does what its flags say, never what a variable left in .env says.
 * A value the variable's schema refuses is left out here; the settings check names it.
 */
export function scheduledDefaults(
  operation: Operation,
  payload: Record<string, unknown>,
  env: Record<string, string | undefined>,
): Record<string, unknown> {
  const defaults = operation.defaults;
  if (!defaults || defaults.actionFields.some((field) => payload[field] !== undefined)) return {};
  return Object.fromEntries(
    Object.entries(defaults.variables).flatMap(([variable, { field, schema }]) => {
      const parsed = schema.safeParse(env[variable] || undefined);
      return parsed.success && parsed.data !== undefined ? [[field, parsed.data]] : [];
    }),
  );
}

function buildInvocation(command: Command, values: FlagValues, env: Record<string, string | undefined>, cwd: string): Invocation {
  const environment: Record<string, string> = {};
  const steps = command.steps.map(({ operation, flags: allFlags }) => {
    const flags = Object.fromEntries(Object.entries(allFlags).filter(([, flag]) => flag.variable === undefined));
    for (const [flag, { variable }] of Object.entries(allFlags)) {
      const value = values[flag];
      if (variable && typeof value === 'string') environment[variable] = resolvePath(cwd, value);
    }
    // Two spellings of one field (--days, --create-partitions-days): the one given names it in messages.
    const given = Object.entries(flags).filter(([flag]) => values[flag] !== undefined);
    const flagOf = new Map([...Object.entries(flags).reverse(), ...given].map(([flag, { field }]) => [field, `--${flag}`] as const));
    for (const [flag, { field }] of given) {
      const other = given.find(([name, spec]) => spec.field === field && name !== flag);
      if (other) throw new InputError(`--${flag} and --${other[0]} are two names of one setting: give one of them`);
    }
    const payload = Object.fromEntries(
      Object.entries(flags).flatMap(([flag, { field, kind }]) => {
        const value = flagValue(values[flag], kind);
        return value === undefined ? [] : [[field, value]];
      }),
    );
    const withDefaults = payload.dryRun === true ? { ...scheduledDefaults(operation, payload, env), ...payload } : payload;
    return { operation, payload: parseOrThrow(operation.payload, withDefaults, { rename: (key) => flagOf.get(key) ?? key }) };
  });
  const yes = values[YES] === true;
  const confirmable = steps.find((step) => step.operation.confirmation);
  if (yes && confirmable && !steps.some((step) => needsConfirmation(step, { dryRunToo: true }))) {
    throw new InputError(`--yes only confirms ${confirmationFlag(confirmable.operation)}`);
  }
  return { command: command.name, steps, yes, ...(Object.keys(environment).length > 0 ? { environment } : {}) };
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

/**
 * A switch is true when given; a number is plain decimal digits (anything else is NaN, which the
 * schema rejects with its message); text is passed on as given, for the schema to judge.
 */
function flagValue(raw: FlagValues[string], kind: Flag['kind']): number | boolean | string | undefined {
  if (kind === 'switch') return raw === true ? true : undefined;
  if (kind === 'text') return typeof raw === 'string' ? raw : undefined;
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
