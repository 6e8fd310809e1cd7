import { describe, expect, it } from 'vitest';
import { EMBEDDED_MIGRATIONS } from '../../functions/operations/migrate/embedded-migrations';
import { readMigrationFiles, renderEmbeddedMigrations } from '../../functions/operations/migrate/migration-files';

describe('embedded migrations', () => {
  it('match migrations/*.sql (run `npm run embed-migrations` after changing a file)', () => {
    expect(EMBEDDED_MIGRATIONS).toEqual(readMigrationFiles());
  });

  it('render to a module that reproduces every byte of the SQL', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${ in SQL must survive embedding
    const files = [{ name: '0001_x.sql', sql: "SELECT '$1 `x` \\n ${y}';\n" }];
    const source = renderEmbeddedMigrations(files);
    const literal = source.slice(source.indexOf('sql: ') + 5, source.lastIndexOf(' },'));
    expect(JSON.parse(literal)).toBe(files[0]?.sql);
  });
});
