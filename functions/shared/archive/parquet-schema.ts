import type { SchemaElement } from 'hyparquet';
import type { FooterColumn } from './footer';
import { ARCHIVE_DECIMAL, type ArchiveColumn, type ArchiveColumnKind } from './layout';

type Physical = Pick<SchemaElement, 'type' | 'type_length' | 'converted_type' | 'precision' | 'scale' | 'logical_type'>;

const STRING: Physical = { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };

/**
 * Each kind's Parquet type, as the writer (arrow-rs, from the Arrow types of arrow-columns.ts)
 * writes it: DECIMAL(38,18) as FIXED_LEN_BYTE_ARRAY(16), timestamps as TIMESTAMP(MICROS, UTC),
 * JSONB as its text in a STRING. The archive's read-back compares the footer with these.
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
