import { isDeepStrictEqual } from 'node:util';
import type { TimeSeriesTable } from '../tables';
import { readFooter } from './footer';
import { ARCHIVE_COLUMNS } from './layout';
import { digestObject, OBJECT_DIGEST_NAME } from './object-digest';
import { expectedFooterColumns } from './parquet-schema';
import type { ArchiveStore } from './store';

/**
 * Reads the object back from the store and checks it is the file just written: its size, the
 * row count in its footer, its columns (names, order, physical and logical types, nullability)
 * against the layout, and the SHA-256 of all its bytes against the hash of the bytes written.
 * Throws, saying what differs, otherwise. Cost: a HEAD, one or two range reads of the footer,
 * and one read of the whole object (see digestObject).
 */
export async function verifyArchive(
  store: ArchiveStore,
  key: string,
  table: TimeSeriesTable,
  expected: { rows: number; bytes: number; sha256: string },
): Promise<void> {
  const where = `${store.location}/${key}`;
  const footer = await readFooter(store, key);
  const problems: string[] = [];
  if (footer.bytes !== expected.bytes) problems.push(`it holds ${footer.bytes} bytes, ${expected.bytes} were written`);
  if (footer.rows !== expected.rows) problems.push(`its footer counts ${footer.rows} rows, the partition has ${expected.rows}`);
  const columns = expectedFooterColumns(ARCHIVE_COLUMNS[table]);
  if (!isDeepStrictEqual(footer.columns, columns)) {
    problems.push(`its columns are ${JSON.stringify(footer.columns)}, the layout wants ${JSON.stringify(columns)}`);
  }
  if (problems.length === 0) {
    const sha256 = await digestObject(store, key, footer.bytes);
    if (sha256 !== expected.sha256) problems.push(`its ${OBJECT_DIGEST_NAME} is ${sha256}, the bytes written hash to ${expected.sha256}`);
  }
  if (problems.length > 0) {
    throw new Error(`verification of ${where} failed: ${problems.join('; ')}; the day was not recorded as archived`);
  }
}
