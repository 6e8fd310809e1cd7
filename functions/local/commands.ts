import { type ParseArgsConfig, parseArgs } from 'node:util';
import { InputError } from '../core/errors';
import {
  DAYS_AHEAD,
  describeIssues,
  type PartitionsEvent,
  type PruneEvent,
  partitionsEventSchema,
  pruneEventSchema,
  RETENTION_DAYS,
} from '../core/inputs';

export type CommandName = 'init' | 'migrate' | 'partitions' | 'prune' | 'stats';
export type OutputFormat = 'table' | 'json';

export type Invocation =
  | { command: 'init'; event: PartitionsEvent }
  | { command: 'migrate'; event: Record<string, never> }
  | { command: 'partitions'; event: PartitionsEvent }
  | { command: 'prune'; event: PruneEvent; yes: boolean }
  | { command: 'stats'; event: Record<string, never> };

export type ParsedCommandLine =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; invocation: Invocation; format: OutputFormat; databaseUrl: string | undefined };

const OPTIONS = {
  'database-url': { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  days: { type: 'string' },
  'create-partitions-days': { type: 'string' },
  'older-than': { type: 'string' },
  'drop-partitions-older-than': { type: 'string' },
  truncate: { type: 'boolean' },
  yes: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];
type Flag = keyof typeof OPTIONS;

const GLOBAL_FLAGS: Flag[] = ['database-url', 'format', 'help', 'version'];
const COMMAND_FLAGS: Record<CommandName, Flag[]> = {
  init: ['create-partitions-days'],
  migrate: [],
  partitions: ['days'],
  prune: ['older-than', 'drop-partitions-older-than', 'truncate', 'yes', 'dry-run'],
  stats: [],
};
const COMMAND_ALIASES: Record<string, CommandName> = {
  init: 'init',
  migrate: 'migrate',
  partitions: 'partitions',
  prune: 'prune',
  clean: 'prune',
  stats: 'stats',
};
/** Event keys as the user typed them, for error messages. */
const FLAG_OF_KEY: Record<string, string> = {
  daysAhead: '--days',
  olderThanDays: '--older-than',
  dropPartitionsOlderThanDays: '--drop-partitions-older-than',
  truncate: '--truncate',
  dryRun: '--dry-run',
};

export const USAGE = `perps-stats-db: create, maintain and watch the perps-stats PostgreSQL database

Usage: npm run local -- [db] <command> [flags]

Commands:
  init [--create-partitions-days N]   migrate, then create partitions (N days, default ${DAYS_AHEAD.default})
  migrate                             apply pending migrations and the exchange seed
  partitions [--days N]               keep N days of partitions ready (1-${DAYS_AHEAD.max}, default ${DAYS_AHEAD.default}); empty default partitions
  clean | prune                       retention (give at least one of):
      --older-than N                  delete rows older than N days (${RETENTION_DAYS.min}-${RETENTION_DAYS.max})
      --drop-partitions-older-than N  drop day partitions that ended N or more days ago (${RETENTION_DAYS.min}-${RETENTION_DAYS.max})
      --truncate [--yes]              empty markets and all data tables (asks for the database name unless --yes)
      --dry-run                       print what would be done, change nothing
  stats                               sizes, row counts, freshness, partition runway, last-hour ingest

Global flags:
  --database-url URL   PostgreSQL URL (else DATABASE_URL from .env, else from the environment,
                       else an embedded PostgreSQL in .pglite/)
  --format table|json  output format (default table); json prints the report alone on stdout
  --help, --version`;

/** Parses argv into one invocation; every problem is an InputError raised before any connection. */
export function parseCommandLine(argv: string[]): ParsedCommandLine {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  const args = attachFlagValues(argv);
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
    if (unknown) throw new InputError(`unknown flag ${unknown}; see --help`);
    // Node says "Option '-h, --help' does not take an argument"; say it in the flag's own name.
    const switchFlag = /Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(message)?.[1];
    if (switchFlag) throw new InputError(`${switchFlag} takes no value: give ${switchFlag} alone; see --help`);
    throw new InputError(`${message.split('\n')[0]}; see --help`);
  }
  const { values } = parsed;
  const positionals = parsed.positionals[0] === 'db' ? parsed.positionals.slice(1) : parsed.positionals;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (positionals.length === 0)
    throw new InputError('no command given: use one of init, migrate, partitions, clean (prune), stats; see --help');
  const [name, ...extra] = positionals;
  const command = COMMAND_ALIASES[name ?? ''];
  if (!command) throw new InputError(`unknown command "${name}": use one of init, migrate, partitions, clean (prune), stats; see --help`);
  if (extra.length > 0) throw new InputError(`unexpected argument "${extra[0]}" after ${name}; see --help`);

  const problems: string[] = [];
  for (const flag of Object.keys(values) as Flag[]) {
    if (!GLOBAL_FLAGS.includes(flag) && !COMMAND_FLAGS[command].includes(flag))
      problems.push(`--${flag} is not an option of ${name}; see --help`);
  }
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') problems.push(`--format must be table or json, got "${format}"`);
  if (problems.length > 0) throw new InputError(problems);

  return {
    kind: 'run',
    invocation: buildInvocation(command, values),
    format: format as OutputFormat,
    databaseUrl: values['database-url'],
  };
}

function buildInvocation(command: CommandName, values: Partial<Record<Flag, string | boolean>>): Invocation {
  switch (command) {
    case 'init':
      return {
        command,
        event: validate(
          partitionsEventSchema,
          { daysAhead: days(values['create-partitions-days']) },
          { daysAhead: '--create-partitions-days' },
        ),
      };
    case 'partitions':
      return { command, event: validate(partitionsEventSchema, { daysAhead: days(values.days) }, { daysAhead: '--days' }) };
    case 'prune': {
      const event = validate(
        pruneEventSchema,
        {
          olderThanDays: days(values['older-than']),
          dropPartitionsOlderThanDays: days(values['drop-partitions-older-than']),
          truncate: values.truncate,
          dryRun: values['dry-run'],
        },
        FLAG_OF_KEY,
      );
      if (values.yes && !event.truncate) throw new InputError('--yes only confirms --truncate');
      return { command, event, yes: Boolean(values.yes) };
    }
    case 'migrate':
    case 'stats':
      return { command, event: {} };
  }
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
    const flag = token.startsWith('--') && !token.includes('=') ? (token.slice(2) as Flag) : undefined;
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

/** Flag text to a number; anything but a plain decimal number becomes NaN, which the schema rejects. */
function days(raw: string | boolean | undefined): number | undefined {
  if (raw === undefined || typeof raw === 'boolean') return undefined;
  return /^[+-]?(\d+(\.\d+)?|\.\d+)$/.test(raw.trim()) ? Number(raw) : Number.NaN;
}

function validate<T>(
  schema: { safeParse(input: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } },
  input: Record<string, unknown>,
  flags: Record<string, string>,
): T {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const result = schema.safeParse(defined);
  if (!result.success) throw new InputError(describeIssues(result.error, (key) => flags[key] ?? key));
  return result.data;
}
