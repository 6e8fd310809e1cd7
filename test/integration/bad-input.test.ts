import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect as connectTcp, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD_ON_COMMAND_LINE } from '../../functions/cli/settings';
import { dayOf } from '../../functions/shared/days';
import type { HandlerOperation } from '../../infra/bundling';
import { cli } from '../support/cli';
import { connect, createTestDatabase, databaseState, initDatabase, testContext } from '../support/database';
import { type BundledHandler, invoke, loadHandler, metricsOf } from '../support/handlers';
import { registerSecret } from '../support/secret-guard';
import { type SdkSecretsEndpoint, useSecretsEndpoint } from '../support/secrets-endpoint';

/**
 * The "Rejected input" table of docs/rejected-input.md is the specification: one test per row, and no other
 * bad-input list. A row whose input cannot be run, a message that differs by one character, or
 * a database that changed fails its test; a dropped row fails the count.
 */
const EXPECTED_ROWS: Record<string, number> = {
  CLI: 160,
  'Lambda migrate': 4,
  'Lambda partitions': 26,
  'Lambda prune': 38,
  'Lambda stats': 24,
  'Lambda vacuum': 3,
  'Lambda archive': 5,
  'Lambda restore': 6,
};

interface Row {
  /** Line in docs/rejected-input.md, for the test name. */
  line: number;
  surface: string;
  input: string;
  result: string;
  message: string;
}

const REJECTED_INPUT_DOC = 'docs/rejected-input.md';

function readRejectedInputTable(): Row[] {
  const lines = readFileSync(fileURLToPath(new URL(`../../${REJECTED_INPUT_DOC}`, import.meta.url)), 'utf8').split('\n');
  const start = lines.indexOf('# Rejected input');
  if (start < 0) throw new Error(`${REJECTED_INPUT_DOC} has no "# Rejected input" heading`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith('#'));
  const rows: Row[] = [];
  for (let index = start; index < (end < 0 ? lines.length : end); index++) {
    const line = lines[index] ?? '';
    if (!line.startsWith('|') || line.startsWith('| surface ') || line.startsWith('| ---')) continue;
    // Cells split on unescaped pipes; code spans may hold `\|`.
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim().replaceAll('\\|', '|'));
    if (cells.length !== 4) throw new Error(`${REJECTED_INPUT_DOC}:${index + 1}: a row needs 4 cells, got ${cells.length}`);
    const [surface = '', input = '', result = '', message = ''] = cells;
    rows.push({ line: index + 1, surface, input: unquoteCode(input), result, message: unquoteCode(message) });
  }
  return rows;
}

/** `text` or `` text with ` `` -> text. */
function unquoteCode(cell: string): string {
  const double = /^`` (.*) ``$/.exec(cell);
  if (double) return double[1] ?? '';
  const single = /^`([^`]*)`$/.exec(cell);
  if (!single) throw new Error(`expected a code span, got ${cell}`);
  return single[1] ?? '';
}

/** Leading `NAME=value` words (value plain or '...') and the rest of the input. */
function splitEnvironment(input: string): { env: Record<string, string>; rest: string } {
  const env: Record<string, string> = {};
  let rest = input.trim();
  for (
    let match = /^([A-Z][A-Z0-9_]*)=('[^']*'|[^\s']*)(\s+|$)/.exec(rest);
    match;
    match = /^([A-Z][A-Z0-9_]*)=('[^']*'|[^\s']*)(\s+|$)/.exec(rest)
  ) {
    env[match[1] ?? ''] = unquoteShell(match[2] ?? '');
    rest = rest.slice(match[0].length);
  }
  return { env, rest };
}

const unquoteShell = (word: string) => word.replace(/'([^']*)'/g, '$1');

/** Shell-like words: whitespace separates them, '...' keeps spaces and quotes inside. */
const shellWords = (text: string) => (text.match(/(?:'[^']*'|[^\s'])+/g) ?? []).map(unquoteShell);

const ROWS = readRejectedInputTable();
const INJECTION = 'x"; DROP TABLE trades; --';

/** The test database as the rows see it: through a TCP relay that counts connections. */
let db: string;
/** The test database directly, for seeding and for the before/after state. */
let directDb: string;
let relay: { server: Server; connections: number };
let stateBeforeRow: Record<string, unknown>;
let placeholders: Record<string, string>;
let endpoint: SdkSecretsEndpoint;
const handlers = new Map<string, BundledHandler>();
// The passwords the rows give: the suite-wide guard fails this file if one shows up in anything
// printed, thrown or returned (the test server's own password is guarded already).
for (const password of ['closed-port-pw', 'url-secret-pw', 'pw-in-url', 'hunter22', 'plain-text-pw', 'wrong-pw']) {
  registerSecret(password, 'a password given in a Rejected input row');
}

/** A directory without a .env, so the developer's own settings cannot reach a row. */
const cwd = mkdtempSync(join(tmpdir(), 'perps-bad-input-'));

function fill(text: string, values: Record<string, string> = placeholders): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/**
 * Relays TCP to the test server and counts the connections, so a row can prove it was refused
 * without connecting, not merely without changing anything.
 */
async function startRelay(target: URL): Promise<{ server: Server; connections: number }> {
  const state = { server: createServer(), connections: 0 };
  state.server.on('connection', (socket) => {
    state.connections += 1;
    const upstream = connectTcp(Number(target.port || 5432), target.hostname);
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', close);
    upstream.on('error', close);
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  return state;
}

beforeAll(async () => {
  directDb = await createTestDatabase();
  await initDatabase(testContext(directDb), { daysAhead: 3 });
  // Rows any command that ran would touch: a market (truncate), a row 40 days old in the
  // DEFAULT partition (partitions would move it, prune would delete it) and a row of today.
  const client = await connect(directDb);
  await client.query(`INSERT INTO markets (exchange_id, symbol) VALUES (1, 'BTC-PERP')`);
  await client.query(
    `INSERT INTO tickers (exchange_id, symbol, ts) VALUES (1, 'BTC-PERP', now() - interval '40 days'), (1, 'BTC-PERP', now())`,
  );
  await client.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'BTC-PERP', now() - interval '40 days', 1, 1)`);
  relay = await startRelay(new URL(directDb));
  const url = new URL(directDb);
  url.hostname = '127.0.0.1';
  url.port = String((relay.server.address() as AddressInfo).port);
  db = url.toString();
  placeholders = {
    db,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    dbname: url.pathname.slice(1),
    user: url.username,
    password: url.password,
    today: dayOf(new Date()),
  };
  stateBeforeRow = await databaseState(directDb);
  endpoint = await useSecretsEndpoint();
});

afterAll(async () => {
  for (const handler of handlers.values()) await handler.close();
  await endpoint?.release();
  relay?.server.close();
});

describe('the Rejected input table of docs/rejected-input.md', () => {
  it('has the expected number of rows per surface, each input once', () => {
    const counts: Record<string, number> = {};
    for (const row of ROWS) counts[row.surface] = (counts[row.surface] ?? 0) + 1;
    expect(counts).toEqual(EXPECTED_ROWS);
    const inputs = ROWS.map((row) => `${row.surface} ${row.input}`);
    expect(inputs.filter((input, index) => inputs.indexOf(input) !== index)).toEqual([]);
  });

  it('tries SQL injection on the command line and in payloads, environment and secrets', () => {
    const surfaces = new Set(
      ROWS.filter((row) => row.input.includes(INJECTION) || row.input.includes(encodeURIComponent(INJECTION))).map(
        (row) => row.surface.split(' ')[0],
      ),
    );
    expect([...surfaces].sort()).toEqual(['CLI', 'Lambda']);
  });
});

describe('rejected input changes nothing', () => {
  it.each(ROWS.map((row) => [`${row.surface}: ${row.input} (${REJECTED_INPUT_DOC}:${row.line})`, row] as const))('%s', async (_, row) => {
    // Rows run one after another and nothing else writes, so the state after the previous row
    // is the state before this one: a row that changed something fails alone, not every row after it.
    const before = stateBeforeRow;
    try {
      if (row.surface === 'CLI') await runCliRow(row);
      else if (row.surface.startsWith('Lambda ')) await runLambdaRow(row);
      else throw new Error(`unknown surface ${row.surface}: CLI or Lambda <operation>`);
    } finally {
      stateBeforeRow = await databaseState(directDb);
    }
    expect(stateBeforeRow).toEqual(before);
  });
});

async function runCliRow(row: Row) {
  const code = /^exit (\d)$/.exec(row.result)?.[1];
  if (!code) throw new Error(`a CLI row's result is "exit N", got ${row.result}`);
  const { env, rest } = splitEnvironment(fill(row.input));
  const { TERMINAL: typed, DOTENV: dotenv, ...processEnv } = env;
  // DOTENV='text': the run starts in a folder whose .env holds that text.
  const rowCwd = dotenv === undefined ? cwd : mkdtempSync(join(tmpdir(), 'perps-bad-input-dotenv-'));
  if (dotenv !== undefined) writeFileSync(join(rowCwd, '.env'), `${dotenv}\n`);
  const argv = shellWords(rest);
  const namesDatabase =
    argv.some((word) => word === '--database-url' || word.startsWith('--database-url=')) || 'DATABASE_URL' in env || 'DB_SECRET_ARN' in env;
  const connectionsBefore = relay.connections;
  const result = await cli(namesDatabase ? argv : [...argv, '--database-url', db], {
    env: processEnv,
    cwd: rowCwd,
    terminalInput: typed === undefined ? undefined : `${typed}\n`,
  });
  const expected = `error: ${fill(row.message)}\n`;
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code: Number(code), stdout: '' });
  // At a terminal the prompt comes first; otherwise the message is all there is, after the line
  // naming the target when the run got as far as knowing it (and the warning that a password in
  // --database-url shows in ps, which cli.test.ts checks).
  if (typed === undefined) {
    const afterTarget = result.stderr.replace(/^target: [^\n]*\n/, '');
    const warning = `${PASSWORD_ON_COMMAND_LINE}\n`;
    expect(afterTarget.startsWith(warning) ? afterTarget.slice(warning.length) : afterTarget).toBe(expected);
  } else expect(result.stderr.slice(-expected.length)).toBe(expected);
  // Bad input is refused before connecting; only a prompt needs the name the server reports.
  if (code === '2') expect(relay.connections - connectionsBefore).toBe(typed === undefined ? 0 : 1);
}

async function runLambdaRow(row: Row) {
  const operation = row.surface.slice('Lambda '.length) as HandlerOperation;
  const { env, rest } = splitEnvironment(fill(row.input));
  const { SECRET: secret, ...functionEnv } = env;
  const values = { ...placeholders };
  if (secret !== undefined) {
    values.arn = `arn:aws:secretsmanager:eu-west-1:000000000000:secret:bad-input-line-${row.line}`;
    endpoint.put(values.arn, secret);
    functionEnv.DB_SECRET_ARN = values.arn;
  }
  const namesDatabase = 'DATABASE_URL' in functionEnv || 'DB_SECRET_ARN' in functionEnv;
  const handlerEnv = { DATABASE_URL: namesDatabase ? undefined : db, ...functionEnv };
  // Rows that differ only in their payload share a warm function, as invocations do in Lambda.
  const key = `${operation} ${JSON.stringify(handlerEnv)}`;
  let handler = handlers.get(key);
  if (!handler) {
    handler = await loadHandler(operation, handlerEnv);
    handlers.set(key, handler);
  }
  const run = await invoke(handler, JSON.parse(rest) as unknown);
  expect({ error: run.error?.name, message: run.error?.message, result: run.result }).toEqual({
    error: row.result,
    message: fill(row.message, values),
    result: undefined,
  });
  expect(metricsOf(run.emf).get(`Failure{service=perps-stats-db,Operation=${operation}}`)?.value).toBe(1);
}
