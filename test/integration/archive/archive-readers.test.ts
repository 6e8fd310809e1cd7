import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { archive } from '../../../functions/operations/archive/archive';
import { partitionCheckSql } from '../../../functions/shared/archive/export-sql';
import { ARCHIVE_COLUMNS, archiveObjectKey } from '../../../functions/shared/archive/layout';
import { readLedger } from '../../../functions/shared/archive/ledger';
import { checksumText } from '../../../functions/shared/archive/values';
import { partitionName } from '../../../functions/shared/days';
import { TIME_SERIES_TABLES } from '../../../functions/shared/tables';
import { archiveDirectory, seededCopies, withArchive } from '../../support/archive';
import { insertEdgeRows, insertVariedRows, postgresRows } from '../../support/archive-rows';
import { connect, testContext } from '../../support/database';
import { pageFormat, readerFilters } from '../../support/parquet-fixtures';
import type { ArchivedRow } from '../../support/parquet-reader';
import { byId, PARQUET_READERS, passes } from '../../support/parquet-readers';

/*
 * Every table archived today, read back by four independent readers, value for value against
 * PostgreSQL, whole and filtered (on the dictionary-encoded symbol and on a decimal). With
 * UPDATE_ARCHIVE_FIXTURES=1 the run also writes the files and PostgreSQL's rows into
 * test/fixtures/archive/, which test/unit/archive-fixtures.test.ts reads with the same readers.
 */
const NOW = new Date('2026-06-20T12:00:00Z');
const DAY = '2026-06-17';
const FIXTURES = fileURLToPath(new URL('../../fixtures/archive/', import.meta.url));

const seeded = seededCopies(NOW, async (client) => {
  await insertEdgeRows(client, DAY);
  await insertVariedRows(client, DAY, 600);
});

describe('archived files, read by every reader', () => {
  const directory = archiveDirectory();
  const expected = new Map<string, ArchivedRow[]>();
  let archivedUrl = '';

  beforeAll(async () => {
    const url = await seeded();
    archivedUrl = url;
    const ctx = withArchive(testContext(url, { now: NOW }), { directory });
    const report = await archive(ctx, { archiveAfterDays: 2 });
    expect(report.partitions_archived).toBe(4);
    const client = await connect(url);
    for (const table of TIME_SERIES_TABLES) expected.set(table, byId(await postgresRows(client, table, partitionName(table, DAY))));
    await client.end();
    if (process.env.UPDATE_ARCHIVE_FIXTURES === '1') {
      mkdirSync(FIXTURES, { recursive: true });
      for (const table of TIME_SERIES_TABLES) {
        copyFileSync(fileOf(table), join(FIXTURES, `${table}.parquet`));
        writeFileSync(join(FIXTURES, `${table}.json`), `${JSON.stringify(expected.get(table), null, 1)}\n`);
      }
    }
  });

  const fileOf = (table: string) => join(directory, archiveObjectKey('perps-archive', table as never, DAY));

  it('the checksum the export computed from the streamed values (the ledger) is the one partitionCheckSql computes in SQL', async () => {
    const client = await connect(archivedUrl);
    const ledger = await readLedger(client);
    for (const table of TIME_SERIES_TABLES) {
      const { rows } = await client.query<{ rows: string; checksum_sum: string }>(
        partitionCheckSql(partitionName(table, DAY), ARCHIVE_COLUMNS[table]),
      );
      const recorded = ledger.find((row) => row.table_name === table);
      expect({ rows: recorded?.rows, checksum: recorded?.checksum }, table).toEqual({
        rows: Number(rows[0]?.rows),
        checksum: checksumText(rows[0]?.checksum_sum ?? ''),
      });
    }
    await client.end();
  });

  for (const table of TIME_SERIES_TABLES) {
    it(`${table}: DATA_PAGE v1 pages, zstd, symbol dictionary-encoded`, () => {
      expect(pageFormat(fileOf(table))).toMatchObject({
        pageTypes: ['DATA_PAGE', 'DICTIONARY_PAGE'],
        codecs: ['ZSTD'],
        symbolDictionary: true,
      });
    });

    for (const reader of PARQUET_READERS) {
      it(`${table}: ${reader.name} reads every value PostgreSQL holds, whole and filtered`, async () => {
        const rows = expected.get(table) ?? [];
        expect(rows.length).toBeGreaterThan(600);
        expect(byId(await reader.read(fileOf(table), ARCHIVE_COLUMNS[table]))).toEqual(rows);
        for (const filter of readerFilters(table, rows)) {
          const matching = rows.filter((row) => passes(row, filter));
          expect(matching.length, JSON.stringify(filter)).toBeGreaterThan(0);
          expect(matching.length, JSON.stringify(filter)).toBeLessThan(rows.length);
          expect(
            byId(await reader.read(fileOf(table), ARCHIVE_COLUMNS[table], filter)),
            `${reader.name} ${JSON.stringify(filter)}`,
          ).toEqual(matching);
        }
      });
    }
  }
});
