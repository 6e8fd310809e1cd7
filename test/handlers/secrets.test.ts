import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, ownerWithoutCreateRole } from '../support/database';
import { type BundledHandler, expectLostConnectionLogs, invoke, loadHandler, setEnv } from '../support/handlers';
import { registerSecret } from '../support/secret-guard';
import { type SdkSecretsEndpoint, useSecretsEndpoint } from '../support/secrets-endpoint';

const ARN = 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:perps-db-AbCdEf';

let endpoint: SdkSecretsEndpoint;
let ownerUrl: URL;
const passwords: string[] = [];
const opened: BundledHandler[] = [];

/** The RDS secret shape for the owner role with `password`. */
function rdsSecret(password: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    engine: 'postgres',
    host: ownerUrl.hostname,
    port: Number(ownerUrl.port),
    username: decodeURIComponent(ownerUrl.username),
    password,
    dbname: ownerUrl.pathname.slice(1),
    dbInstanceIdentifier: 'perps-db',
    ...extra,
  });
}

async function handlerFor(operation: 'migrate' | 'stats', arn = ARN, env: Record<string, string> = {}) {
  const handler = await loadHandler(operation, { DB_SECRET_ARN: arn, ...env });
  opened.push(handler);
  return handler;
}

async function setRolePassword(password: string) {
  const admin = new pg.Client(testDatabaseUrl);
  await admin.connect();
  await admin.query(`ALTER ROLE ${pg.escapeIdentifier(decodeURIComponent(ownerUrl.username))} PASSWORD ${pg.escapeLiteral(password)}`);
  await admin.end();
  passwords.push(password);
  registerSecret(password, 'a rotated password');
}

let testDatabaseUrl: string;

/** Ends every session of `user` on the server; returns how many there were. */
async function endSessionsOf(user: string): Promise<number> {
  const admin = new pg.Client(testDatabaseUrl);
  await admin.connect();
  try {
    const { rowCount } = await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
      [user],
    );
    return rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

beforeAll(async () => {
  testDatabaseUrl = await createTestDatabase();
  ownerUrl = new URL((await ownerWithoutCreateRole(testDatabaseUrl)).url);
  passwords.push(decodeURIComponent(ownerUrl.password));
  endpoint = await useSecretsEndpoint({ DATABASE_URL: undefined });
  endpoint.put(ARN, rdsSecret(decodeURIComponent(ownerUrl.password)));
});

afterAll(async () => {
  for (const handler of opened) await handler.close();
  await endpoint.release();
});

describe('database credentials from Secrets Manager (real SDK client, local endpoint)', () => {
  it('makes no call at import, fetches on the first invocation and serves warm invocations from the cache', async () => {
    const migrate = await handlerFor('migrate');
    expect(endpoint.targets).toEqual([]); // importing the bundle called nothing
    const migrated = await invoke(migrate, {});
    expect(migrated.error).toBeUndefined();
    expect(migrated.result).toMatchObject({ applied: 8 });
    expect(endpoint.calls(ARN)).toBe(1);
    expect(endpoint.targets).toEqual(['secretsmanager.GetSecretValue']);
    expect(endpoint.authorizations[0]).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request/,
    );

    const stats = await handlerFor('stats');
    await invoke(stats, {});
    await invoke(stats, {});
    await invoke(stats, {});
    expect(endpoint.calls(ARN)).toBe(2); // one per cold start, none per warm invocation
  });

  it('survives a rotation: a refused password refetches the secret once and reconnects', async () => {
    const stats = await handlerFor('stats');
    expect((await invoke(stats, {})).error).toBeUndefined();
    const callsBefore = endpoint.calls(ARN);
    // Rotation changes the password in the database and the secret; the warm function still
    // holds the old one. Characters that need URL encoding must survive too.
    const rotated = 'r0t@ted/p:ss%word?#';
    await setRolePassword(rotated);
    endpoint.put(ARN, rdsSecret(rotated));
    // Drop the warm connections, as a rotation's session reset or a frozen function would. The
    // pool of every warm handler of this file logs the loss of its idle connection once.
    await expectLostConnectionLogs(() => endSessionsOf(decodeURIComponent(ownerUrl.username)));

    const next = await invoke(stats, {});
    expect(next.error).toBeUndefined();
    expect(next.result).toMatchObject({ operation: 'stats' });
    expect(endpoint.calls(ARN)).toBe(callsBefore + 1);
    expect(next.logs.map((line) => line.message)).toContain(
      'the database refused the secret password: fetching the secret again (rotated?)',
    );
  });

  it('fails clearly when the secret still holds a refused password, after one refetch', async () => {
    const stats = await handlerFor('stats');
    await setRolePassword('changed-behind-the-secrets-back');
    const callsBefore = endpoint.calls(ARN);
    const run = await invoke(stats, {});
    expect(run.error?.name).toBe('DatabaseUnavailableError');
    expect(run.error?.message).toMatch(/cannot connect to .*: password authentication failed for user "perps_owner_\w+"/);
    expect(endpoint.calls(ARN)).toBe(callsBefore + 2); // the cold fetch and exactly one refetch
  });

  it('reads a corrected secret on the next warm invocation, not only after a cold start', async () => {
    const arn = `${ARN}-fixed-later`;
    endpoint.put(arn, JSON.stringify({ username: 'app', host: ownerUrl.hostname }));
    const stats = await handlerFor('stats', arn);
    expect((await invoke(stats, {})).error?.name).toBe('InputError');
    await setRolePassword('fixed-later-password');
    endpoint.put(arn, rdsSecret('fixed-later-password'));
    const next = await invoke(stats, {});
    expect(next.error).toBeUndefined();
    expect(endpoint.calls(arn)).toBe(2);
  });

  it('fails within seconds when the endpoint refuses connections or never answers', async () => {
    const silent: Server = createServer((socket: Socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      for (const [what, endpointUrl, bound] of [
        ['refused', 'http://127.0.0.1:1', 10_000],
        ['silent', `http://127.0.0.1:${silentPort}`, 30_000],
      ] as const) {
        setEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: endpointUrl });
        const stats = await handlerFor('stats', `${ARN}-${what}`);
        const started = Date.now();
        const run = await invoke(stats, {});
        const elapsed = Date.now() - started;
        expect(run.error?.name, what).toBe('DatabaseUnavailableError');
        expect(run.error?.message).toMatch(new RegExp(`^cannot read the database secret ${ARN}-${what}: `));
        // Generous bound, not a timing assertion: the SDK gives up (2 attempts, 3 s connect,
        // 5 s request timeouts) instead of hanging until the Lambda times out.
        expect(elapsed, `${what}: ${elapsed} ms`).toBeLessThan(bound);
      }
    } finally {
      setEnv({ AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint.url });
      silent.close();
    }
  });

  it('applies DB_SSL over the default: verify-full against a server without TLS is refused, clearly', async () => {
    await setRolePassword('tls-test-password');
    endpoint.put(ARN, rdsSecret('tls-test-password'));
    const run = await invoke(await handlerFor('stats', ARN, { DB_SSL: 'verify-full' }), {});
    expect(run.error?.name).toBe('DatabaseUnavailableError');
    expect(run.error?.message).toMatch(/The server does not support SSL connections/);
  });
});
