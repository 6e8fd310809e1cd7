import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling';
import { afterFile, connect, initDatabase, loginRole, ownDatabase, testContext } from '../support/database';
import { startTestServer } from '../support/server';

// Issue 12: every SQL snippet in the docs runs as written. Each ```sql block of README.md and
// docs/*.md runs, in document order and as written, on a freshly migrated database, as the
// maintenance user the docs describe (CREATEROLE, owner of the database and of schema public, not
// a superuser; the shape of an RDS master user), which created perps_reader and perps_writer in
// migration 0003. On a cluster of its own: roles are cluster-wide, and from PostgreSQL 16 only
// their creator may grant them, so on the shared server the outcome would depend on which test
// file created them first; the roles the snippets create (ingester, grafana) go away with it.

interface Snippet {
  /** `docs/design.md:96`: where the block opens. */
  where: string;
  sql: string;
}

const DOC_FILES = [
  'README.md',
  ...readdirSync(join(PROJECT_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

const OPENING = /^\s*```sql\s*$/;
const CLOSING = /^\s*```\s*$/;

/** The ```sql blocks of one Markdown file; an unclosed one is an error, not skipped. */
function sqlSnippets(file: string): Snippet[] {
  const lines = readFileSync(join(PROJECT_ROOT, file), 'utf8').split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!OPENING.test(lines[i] ?? '')) continue;
    const end = lines.findIndex((line, j) => j > i && CLOSING.test(line));
    if (end < 0) throw new Error(`${file}:${i + 1}: a \`\`\`sql block is never closed`);
    snippets.push({ where: `${file}:${i + 1}`, sql: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return snippets;
}

const SNIPPETS = DOC_FILES.flatMap(sqlSnippets);

let maintenance: pg.Client;

beforeAll(async () => {
  const server = await startTestServer();
  afterFile(() => server.stop());
  await (await connect(server.url)).query('CREATE DATABASE perps');
  const url = new URL('/perps', server.url).toString();
  const admin = await connect(url);
  const maint = await loginRole(admin, url, 'perps_maint', 'CREATEROLE NOSUPERUSER');
  await ownDatabase(admin, url, maint.role);
  await initDatabase(testContext(maint.url), { daysAhead: 7 });
  maintenance = await connect(maint.url);
});

describe('every SQL snippet in the docs runs as written (as the maintenance user, on a migrated database)', () => {
  it('finds every SQL block: each line that opens a fence tagged sql, in any case or indentation, opens one it runs', () => {
    const fences = DOC_FILES.flatMap((file) =>
      readFileSync(join(PROJECT_ROOT, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => (/^\s*```+\s*\{?\.?sql\b/i.test(line) ? [`${file}:${i + 1}`] : [])),
    );
    expect(fences).not.toEqual([]);
    expect(SNIPPETS.map((s) => s.where)).toEqual(fences);
  });

  it.each(SNIPPETS)('$where', async ({ sql }) => {
    await maintenance.query(sql);
  });
});
