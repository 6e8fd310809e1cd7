import type { SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type pg from 'pg';
import { ARCHIVE_COLUMNS, type ArchiveColumn, type ArchiveStore, archiveObjectKey } from '../../functions/core/archive/layout';
import { recordArchive } from '../../functions/core/archive/ledger';
import { partitionName } from '../../functions/core/days';
import type { TimeSeriesTable } from '../../functions/core/tables';

/*
 * A day archived the way layout.ts says (DECIMAL(38,18), TIMESTAMP(MICROS), text for JSONB) and
 * recorded in the ledger: what restore and prune read, written without the archive operation.
 */

const DECIMAL = {
  type: 'FIXED_LEN_BYTE_ARRAY',
  type_length: 16,
  converted_type: 'DECIMAL',
  precision: 38,
  scale: 18,
  logical_type: { type: 'DECIMAL', precision: 38, scale: 18 },
} as const;
const TIMESTAMP = {
  type: 'INT64',
  converted_type: 'TIMESTAMP_MICROS',
  logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
} as const;
const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } } as const;

function element(column: ArchiveColumn): SchemaElement {
  const repetition_type = column.nullable ? 'OPTIONAL' : 'REQUIRED';
  const types = { int32: { type: 'INT32' }, int64: { type: 'INT64' }, text: STRING, json: STRING, timestamp: TIMESTAMP, decimal: DECIMAL };
  return { name: column.name, repetition_type, ...types[column.kind] } as SchemaElement;
}

/** A column as exact text: microseconds for timestamps, PostgreSQL's own text for the rest. */
function exactText(column: ArchiveColumn): string {
  const name = `"${column.name}"`;
  if (column.kind === 'timestamp') {
    return `(extract(epoch FROM date_trunc('second', ${name}))::bigint * 1000000 + (extract(microseconds FROM ${name})::bigint % 1000000))::text`;
  }
  return `${name}::text`;
}

function unscaled(text: string): bigint {
  const [whole = '0', fraction = ''] = text.replace('-', '').split('.');
  const value = BigInt(whole) * 10n ** 18n + BigInt(fraction.padEnd(18, '0'));
  return text.startsWith('-') ? -value : value;
}

function writerValue(column: ArchiveColumn, text: string | null): unknown {
  if (text === null) return null;
  if (column.kind === 'int32') return Number(text);
  if (column.kind === 'int64' || column.kind === 'timestamp') return BigInt(text);
  if (column.kind === 'decimal') return unscaled(text);
  return text;
}

/** Writes the day partition of `table` to `store` (row groups of `rowGroupSize`) and records it in the ledger. */
export async function archiveDay(
  client: pg.ClientBase,
  store: ArchiveStore,
  prefix: string,
  table: TimeSeriesTable,
  day: string,
  rowGroupSize = 1000,
): Promise<{ key: string; rows: number; bytes: number }> {
  const columns = ARCHIVE_COLUMNS[table];
  const { rows } = await client.query<Record<string, string | null>>(
    `SELECT ${columns.map((c) => `${exactText(c)} AS "${c.name}"`).join(', ')} FROM "${partitionName(table, day)}" ORDER BY id`,
  );
  const schema: SchemaElement[] = [{ name: 'root', num_children: columns.length }, ...columns.map(element)];
  const columnData = columns.map((column) => ({
    name: column.name,
    data: rows.map((row) => writerValue(column, row[column.name] ?? null)),
  }));
  // biome-ignore lint/suspicious/noExplicitAny: the writer types its data loosely per column type
  const body = new Uint8Array(parquetWriteBuffer({ columnData: columnData as any, schema, rowGroupSize }));
  const key = archiveObjectKey(prefix, table, day);
  const { bytes } = await store.put(
    key,
    (async function* () {
      yield body;
    })(),
  );
  await recordArchive(client, {
    table_name: table,
    day,
    location: store.location,
    object_key: key,
    rows: rows.length,
    bytes,
    checksum: 'test',
    source_modifications: null,
  });
  return { key, rows: rows.length, bytes };
}
