import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling';
import { afterFile, connect } from '../support/database';
import { startTestServer } from '../support/server';

/**
 * README's copy-paste block for your own PostgreSQL (Roles) runs as written: bash, psql and the
 * runner, on a server of its own (roles are cluster-wide), as its superuser `postgres`. Only
 * where the server is changes: `localhost:5432` becomes the test server's address, and
 * `npm run local --` the runner npm would start (scripts/local.mjs).
 */
function readmeBlock(): string {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const block = /```sh\n(# 1\. As a superuser[\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error("README.md has no ```sh block starting '# 1. As a superuser'");
  return block;
}

describe("README's block for your own PostgreSQL", () => {
  let serverUrl: URL;
  let output: { status: number | null; stdout: string; stderr: string };
  beforeAll(async () => {
    const server = await startTestServer();
    afterFile(() => server.stop());
    serverUrl = new URL(server.url);
    const script = readmeBlock()
      .replaceAll('localhost:5432', `${serverUrl.hostname}:${serverUrl.port}`)
      .replaceAll('npm run local --', `node ${join(PROJECT_ROOT, 'scripts', 'local.mjs')}`);
    output = spawnSync('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: mkdtempSync(join(tmpdir(), 'perps-readme-')),
      encoding: 'utf8',
      timeout: 120_000,
      // psql -U postgres reaches the test server as its superuser, as on a fresh install.
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: process.env.TMPDIR,
        PGHOST: serverUrl.hostname,
        PGPORT: serverUrl.port,
        PGPASSWORD: decodeURIComponent(serverUrl.password),
      },
    });
  });

  it('runs as written, and leaves the logins it promises', async () => {
    expect(output.stderr).not.toMatch(/error|ERROR/);
    expect(output.status).toBe(0);
    const perps = new URL(serverUrl);
    perps.pathname = '/perps';
    const admin = await connect(perps.toString());
    try {
      const roles = await admin.query<{ role: string; superuser: boolean; createrole: boolean; writer: boolean; reader: boolean }>(
        `SELECT rolname AS role, rolsuper AS superuser, rolcreaterole AS createrole,
                pg_has_role(rolname, 'perps_writer', 'MEMBER') AS writer, pg_has_role(rolname, 'perps_reader', 'MEMBER') AS reader
           FROM pg_roles WHERE rolname IN ('perps_admin', 'ingester', 'grafana') ORDER BY rolname`,
      );
      // perps_admin's own membership of the roles it made differs by major (PostgreSQL 16 makes the creator a member).
      expect(
        roles.rows.map(({ role, superuser, createrole, writer, reader }) =>
          role === 'perps_admin' ? { role, superuser, createrole } : { role, superuser, createrole, writer, reader },
        ),
      ).toEqual([
        { role: 'grafana', superuser: false, createrole: false, writer: false, reader: true },
        { role: 'ingester', superuser: false, createrole: false, writer: true, reader: false },
        { role: 'perps_admin', superuser: false, createrole: true },
      ]);
      const schema = await admin.query(`SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'public'`);
      expect(schema.rows).toEqual([{ owner: 'perps_admin' }]);
      const tables = await admin.query<{ owner: string; partitions: number }>(
        `SELECT pg_get_userbyid(c.relowner) AS owner, (SELECT count(*)::int FROM pg_inherits WHERE inhparent = c.oid) AS partitions
           FROM pg_class c WHERE c.oid = 'public.trades'::regclass`,
      );
      // init made the schema as perps_admin: 7 days of partitions from today, and the DEFAULT one.
      expect(tables.rows).toEqual([{ owner: 'perps_admin', partitions: 8 }]);
      const rights = await admin.query(
        `SELECT has_table_privilege('ingester', 'trades', 'INSERT') AS ingester_inserts,
                has_table_privilege('ingester', 'trades', 'DELETE') AS ingester_deletes,
                has_table_privilege('grafana', 'trades', 'SELECT') AS grafana_reads,
                has_table_privilege('grafana', 'trades', 'INSERT') AS grafana_inserts`,
      );
      expect(rights.rows).toEqual([{ ingester_inserts: true, ingester_deletes: false, grafana_reads: true, grafana_inserts: false }]);
    } finally {
      await admin.end();
    }
  });
});
