import type { CommandLine } from '../shared/operation-definition';
import type { CommandStep } from './payloads';

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

/** A command that runs registry operations, as its help describes it. */
interface HelpSubject {
  name: string;
  aliases: readonly string[];
  usage: CommandLine['usage'];
  steps: readonly CommandStep[];
}

/** `<command> --help` and `help <command>` of a command that runs operations: from their registry entries. */
export function commandHelp(command: HelpSubject): string {
  const { name, aliases, usage } = command;
  const flags = usage.flags ?? [];
  const shownName = aliases[0] ?? name;
  return [
    `Usage: npm run local -- ${usage.synopsis ?? [shownName, ...flags.map(([flag]) => `[${flag}]`)].join(' ')} [--database-url URL] [--format table|json]`,
    ...(aliases.length > 0 ? [`       (also called ${[name, ...aliases.slice(1)].join(', ')})`] : []),
    '',
    usage.summary,
    ...(flags.length > 0 ? ['', 'Flags:', ...helpRows(flags)] : []),
    '',
    'Examples:',
    ...(usage.examples ?? ['']).map((example) => `  npm run local -- ${[shownName, example].filter(Boolean).join(' ')}`),
    '',
    'Environment:',
    ...helpRows(environmentOf(command.steps)),
    '',
    `Runs as: ${runsAsOwner(command.steps) ? 'the owner of the tables (the role that ran migrate)' : 'any login with SELECT on the tables (perps_reader)'}`,
    '',
    EXIT_CODES,
  ].join('\n');
}

const helpRows = (rows: readonly (readonly [string, string])[]) => rows.map(([left, right]) => `  ${left.padEnd(34)}${right}`);

/** The variables every command reads, then those its operations read, each once. */
function environmentOf(steps: readonly CommandStep[]): (readonly [string, string])[] {
  const own = steps.flatMap((step) => step.operation.cli.usage.environment ?? []);
  return [...COMMON_ENVIRONMENT, ...new Map(own.map(([key, text]) => [key, text]))];
}

const runsAsOwner = (steps: readonly CommandStep[]) => steps.some((step) => (step.operation.runsAs ?? 'owner') === 'owner');

/** A command's lines in --help: its synopsis (default its names) and what it does, then a line per flag. */
export function usageLines(name: string, aliases: readonly string[], usage: CommandLine['usage']): string {
  const synopsis = usage.synopsis ?? [...aliases, name].join(' | ');
  // A synopsis too long for the column gets a line of its own, the summary under the column.
  const head = synopsis.length < 36 ? [`  ${synopsis.padEnd(36)}${usage.summary}`] : [`  ${synopsis}`, `${' '.repeat(38)}${usage.summary}`];
  return [...head, ...(usage.flags ?? []).map(([flag, help]) => `      ${flag.padEnd(32)}${help}`)].join('\n');
}
