import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli';
import { createTestDatabase, withClient } from '../support/database';

describe('smoke', () => {
  it('runs', async () => {
    const url = await createTestDatabase();
    const m = await cli(['migrate', '--database-url', url]);
    const p = await cli(['partitions', '--database-url', url]);
    const s = await cli(['stats', '--database-url', url]);
    const j = await cli(['stats', '--database-url', url, '--format', 'json']);
    console.log(m.code, m.stderr, p.code, s.code, s.stdout, s.stderr, JSON.stringify(JSON.parse(j.stdout).jobs, null, 1));
    console.log(await withClient(url, async (c) => (await c.query('SELECT * FROM job_runs')).rows));
  });
});
