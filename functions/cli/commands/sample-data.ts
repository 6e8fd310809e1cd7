import pg from 'pg';
import { connectionConfig, toUnavailableError } from '../../shared/db/pool';
import { toPrivilegeError } from '../../shared/db/privileges';
import { DEFAULT_CONNECTION_SETTINGS } from '../../shared/db/settings';
import { InputError } from '../../shared/errors';
import { readDecimal } from '../../shared/parse';
import { terminalJson } from '../../shared/printable';
import { insertSampleData, type SampleDataReport } from '../insert-sample-data';
import { databaseUrlOf, type FlagValues, optionProblems } from '../options';
import type { Runner, RunnerCommand } from '../runner';
import { resolveSettings, targetLines } from '../settings';

/** `sample-data --days N`: how many days back (today included) get rows. */
const SAMPLE_DAYS = { min: 1, max: 14, default: 3 } as const;
const SYNOPSIS = 'sample-data [--days N]';
const SUMMARY = `insert realistic rows (3 exchanges x 3 symbols, N days back, ${SAMPLE_DAYS.min}-${SAMPLE_DAYS.max}, default ${SAMPLE_DAYS.default}) to try stats on`;

const HELP = `Usage: npm run local -- ${SYNOPSIS} [--database-url URL] [--format table|json]

${SUMMARY}.
Plain INSERTs into the parent tables, as the ingester (perps_writer) writes: markets, tickers
every minute, order books every 5 minutes, trades every 30 seconds, funding every 8 hours, ingest
events, from N-1 days ago until now. Past days without a partition land in the DEFAULT
partitions, as a late ingester's rows would (\`partitions\` moves them out). Run \`init\` first.

Examples:
  npm run local -- init && npm run local -- sample-data && npm run local -- stats
  npm run local -- sample-data --days 7 --database-url postgres://localhost/perps_dev`;

/** `sample-data [--days N]`: rows to look at, in the configured or embedded database. */
export const SAMPLE_DATA_COMMAND: RunnerCommand = {
  name: 'sample-data',
  aliases: [],
  options: { days: { type: 'string' } },
  usage: { synopsis: SYNOPSIS, summary: SUMMARY },
  help: () => HELP,
  parse({ positionals, values }) {
    if (positionals[0] !== undefined)
      throw new InputError(`unexpected argument "${positionals[0]}" after sample-data; see sample-data --help`);
    const { problems, format } = optionProblems(values, ['days', 'database-url', 'format'], 'sample-data');
    const days = sampleDays(values, problems);
    if (problems.length > 0) throw new InputError(problems);
    const databaseUrl = databaseUrlOf(values);
    return { kind: 'run', format, databaseUrl, run: (runner) => sampleData(days, databaseUrl, runner) };
  },
};

/** --days N, default 3; a number out of range adds its problem to the others. */
function sampleDays(values: FlagValues, problems: string[]): number {
  const days = typeof values.days === 'string' ? readDecimal(values.days) : SAMPLE_DAYS.default;
  if (!Number.isInteger(days) || days < SAMPLE_DAYS.min || days > SAMPLE_DAYS.max) {
    problems.push(`--days: must be a whole number of days from ${SAMPLE_DAYS.min} to ${SAMPLE_DAYS.max}`);
  }
  return days;
}

/** Rows through a plain connection, as the ingester writes them. */
async function sampleData(days: number, databaseUrl: string | undefined, { io, environment, output, handlers }: Runner): Promise<number> {
  const settings = resolveSettings(databaseUrl, io.cwd, environment.values, environment.fromDotenv);
  output.redactPasswordOf(settings.url);
  for (const line of targetLines(settings, environment.overridden)) output.error(line);
  const url = settings.url ?? (await handlers.startEmbedded(settings.embeddedDir, output));
  const client = new pg.Client(connectionConfig(url, { connectionTimeoutMillis: DEFAULT_CONNECTION_SETTINGS.connectTimeoutMs }));
  try {
    await client.connect().catch((error: unknown) => {
      throw toUnavailableError(error, url, DEFAULT_CONNECTION_SETTINGS.connectTimeoutMs);
    });
    const report = await insertSampleData(client, new Date(), days).catch((error: unknown) => {
      // It writes markets and every data table, as the owner that ran init does.
      throw toPrivilegeError(error, 'sample-data', 'owner');
    });
    output.info(output.format === 'json' ? terminalJson(report, 2) : insertedLine(report));
    return 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The table format's one line: the rows inserted per table. */
function insertedLine({ database, days, rows }: SampleDataReport): string {
  const counts = Object.entries(rows).map(([table, count]) => `${table}=${count}`);
  return `sample-data ${database}: ${days} days of rows inserted: ${counts.join(' ')}`;
}
