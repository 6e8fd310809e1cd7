import type { SchemaElement } from 'hyparquet';
import type { FooterColumn } from './footer';
import { ARCHIVE_DECIMAL, type ArchiveColumn, type ArchiveColumnKind } from './layout';

type Physical = Pick<SchemaElement, 'type' | 'type_length' | 'converted_type' | 'precision' | 'scale' | 'logical_type'>;

const STRING: Physical = { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };

/**
 * Each kind's Parquet type. DECIMAL is FIXED_LEN_BYTE_ARRAY(16) from bigint unscaled values;
 * timestamps are TIMESTAMP(MICROS, UTC) from bigint microseconds; JSONB is its text as a
 * STRING (a JSON annotation would make hyparquet-writer stringify it a second time).
 */
const PHYSICAL: Record<ArchiveColumnKind, Physical> = {
  int32: { type: 'INT32' },
  int64: { type: 'INT64' },
  text: STRING,
  json: STRING,
  timestamp: {
    type: 'INT64',
    converted_type: 'TIMESTAMP_MICROS',
    logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
  },
  decimal: {
    type: 'FIXED_LEN_BYTE_ARRAY',
    type_length: 16,
    converted_type: 'DECIMAL',
    precision: ARCHIVE_DECIMAL.precision,
    scale: ARCHIVE_DECIMAL.scale,
    logical_type: { type: 'DECIMAL', precision: ARCHIVE_DECIMAL.precision, scale: ARCHIVE_DECIMAL.scale },
  },
};

/** The Parquet schema of a table's archive: the root, then one leaf per column. */
export function parquetSchema(columns: readonly ArchiveColumn[]): SchemaElement[] {
  return [
    { name: 'root', num_children: columns.length },
    ...columns.map((column) => ({
      name: column.name,
      ...PHYSICAL[column.kind],
      repetition_type: column.nullable ? ('OPTIONAL' as const) : ('REQUIRED' as const),
    })),
  ];
}

/** What readFooter must find for these columns: the verification compares the two. */
export function expectedFooterColumns(columns: readonly ArchiveColumn[]): FooterColumn[] {
  return columns.map((column) => {
    const physical = PHYSICAL[column.kind];
    const logical = physical.logical_type;
    return {
      name: column.name,
      type: physical.type,
      typeLength: physical.type_length,
      repetition: column.nullable ? 'OPTIONAL' : 'REQUIRED',
      logical:
        logical?.type === 'DECIMAL'
          ? `DECIMAL(${logical.precision},${logical.scale})`
          : logical?.type === 'TIMESTAMP'
            ? `TIMESTAMP(${logical.unit},UTC)`
            : logical?.type,
    };
  });
}
