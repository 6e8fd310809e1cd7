import { InputError } from '../../shared/errors';
import { databaseUrlOf, type FlagValues, optionProblems } from '../options';
import type { Runner, RunnerCommand } from '../runner';
import { resolveSettings } from '../settings';

const HELP = `Usage: npm run local -- serve [--port N]

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

/** `serve [--port N]`: the embedded database, open for other clients. */
export const SERVE_COMMAND: RunnerCommand = {
  name: 'serve',
  aliases: [],
  options: { port: { type: 'string' } },
  usage: { synopsis: 'serve [--port N]', summary: 'keep the embedded database open for psql, an ingester or Grafana; prints its URL' },
  help: () => HELP,
  parse({ positionals, values }) {
    if (positionals[0] !== undefined) throw new InputError(`unexpected argument "${positionals[0]}" after serve; see serve --help`);
    const { problems } = optionProblems(values, ['port', 'database-url'], 'serve');
    if (problems.length > 0) throw new InputError(problems);
    const port = servePort(values);
    // Taken only to be refused with a reason: serve serves the embedded database.
    const databaseUrl = databaseUrlOf(values);
    return { kind: 'run', format: 'table', databaseUrl, run: (runner) => serve(port, databaseUrl, runner) };
  },
};

/** `--port N`: a TCP port, or none (0: any free one). */
function servePort(values: FlagValues): number {
  const raw = values.port;
  if (typeof raw !== 'string') return 0;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65_535) throw new InputError('--port: must be a port number from 1 to 65535');
  return Number(raw);
}

/** Only the embedded database: a configured URL names a server psql can reach already. */
async function serve(port: number, databaseUrl: string | undefined, { io, environment, output }: Runner): Promise<number> {
  const settings = resolveSettings(databaseUrl, io.cwd, environment.values, environment.fromDotenv);
  if (settings.url !== undefined) {
    throw new InputError(
      `serve opens the embedded database, but ${settings.urlSource} names a server: connect to that one directly, or unset it to serve the embedded one`,
    );
  }
  // PGlite only when serving: the runner's other commands start without it.
  const { serveEmbedded } = await import('../serve-embedded');
  await serveEmbedded({
    dir: settings.embeddedDir,
    port,
    signal: io.stopSignal?.() ?? AbortSignal.abort(),
    print: (line) => output.info(line),
    tell: (line) => output.error(line),
  });
  return 0;
}
