import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_TEMPLATE_DIR, embeddedTemplate, pgliteVersion, templateFile } from '../../functions/cli/embedded-template';

describe('the embedded database template', () => {
  it('is there for the installed PGlite, alone (npm run embedded-template makes it after a PGlite upgrade)', () => {
    expect(existsSync(templateFile()), `no template for PGlite ${pgliteVersion()}: run npm run embedded-template`).toBe(true);
    expect(readdirSync(EMBEDDED_TEMPLATE_DIR)).toEqual([`pglite-${pgliteVersion()}.tar.gz`]);
  });

  it("opens as a new database with initdb's small settings, and reopens from its folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'perps-template-'));
    try {
      const template = embeddedTemplate();
      expect(template).toBeDefined();
      const db = await PGlite.create(join(dir, 'db'), { loadDataDir: template });
      const settings = await db.query<{ shared_buffers: string; wal_segment_size: string; postgres_db: number }>(
        `SELECT current_setting('shared_buffers') AS shared_buffers, current_setting('wal_segment_size') AS wal_segment_size,
                (SELECT count(*)::int FROM pg_database WHERE datname = 'postgres') AS postgres_db`,
      );
      expect(settings.rows).toEqual([{ shared_buffers: '16MB', wal_segment_size: '1MB', postgres_db: 1 }]);
      await db.exec('CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)');
      await db.close();
      const reopened = await PGlite.create(join(dir, 'db'));
      expect((await reopened.query('SELECT id FROM kept')).rows).toEqual([{ id: 1 }]);
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
