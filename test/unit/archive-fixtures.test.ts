import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ARCHIVE_COLUMNS } from '../../functions/shared/archive/layout';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { pageFormat, readerFilters } from '../support/parquet-fixtures';
import type { ArchivedRow } from '../support/parquet-reader';
import { byId, PARQUET_READERS, passes } from '../support/parquet-readers';

/*
 * One archived day per table, written by this project's archive (test/fixtures/archive/<table>.parquet),
 * and the rows PostgreSQL held (<table>.json). Every reader must read them exactly, whole and
 * filtered: an upgrade of a reader, or of the writer's file format (these files stay as written;
 * test/integration/archive/archive-readers.test.ts checks what the writer writes today), that breaks one
 * fails here. Regenerate with UPDATE_ARCHIVE_FIXTURES=1 npx vitest run test/integration/archive/archive-readers.test.ts.
 */
const FIXTURES = fileURLToPath(new URL('../fixtures/archive/', import.meta.url));

describe('the archive fixtures, read by every reader', () => {
  for (const table of TIME_SERIES_TABLES) {
    const file = `${FIXTURES}${table}.parquet`;
    const rows = JSON.parse(readFileSync(`${FIXTURES}${table}.json`, 'utf8')) as ArchivedRow[];

    it(`${table}: DATA_PAGE v1 pages, zstd, a dictionary for symbol`, () => {
      expect(pageFormat(file)).toEqual({ pageTypes: ['DATA_PAGE', 'DICTIONARY_PAGE'], codecs: ['ZSTD'], symbolDictionary: true });
    });

    for (const reader of PARQUET_READERS) {
      it(`${table}: ${reader.name}`, async () => {
        expect(rows.length).toBeGreaterThan(600);
        expect(byId(await reader.read(file, ARCHIVE_COLUMNS[table]))).toEqual(rows);
        for (const filter of readerFilters(table, rows)) {
          const matching = rows.filter((row) => passes(row, filter));
          expect(matching.length).toBeGreaterThan(0);
          expect(byId(await reader.read(file, ARCHIVE_COLUMNS[table], filter)), JSON.stringify(filter)).toEqual(matching);
        }
      });
    }
  }
});
