import { parquetMetadataAsync } from 'hyparquet';
import type { ArchiveStore } from './store';

/** One leaf column of a Parquet file, as its footer describes it. */
export interface FooterColumn {
  name: string;
  /** Physical type: INT32, INT64, BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY. */
  type: string | undefined;
  /** FIXED_LEN_BYTE_ARRAY's width in bytes. */
  typeLength: number | undefined;
  /** REQUIRED or OPTIONAL. */
  repetition: string | undefined;
  /** The logical type in a word (STRING, DECIMAL(38,18), TIMESTAMP(MICROS,UTC)), or undefined. */
  logical: string | undefined;
}

/** What an archived object's footer says: the rows it holds and its columns. */
export interface ParquetFooter {
  bytes: number;
  rows: number;
  rowGroups: number;
  columns: FooterColumn[];
}

/**
 * Reads the footer of the object under `key` (two or three explicit range reads: the last 512
 * KiB at most, then the rest of a bigger footer) without reading its data. Throws when there is
 * no object or it is not Parquet.
 */
export async function readFooter(store: ArchiveStore, key: string): Promise<ParquetFooter> {
  const bytes = await store.size(key);
  if (bytes === null) throw new Error(`${store.location}/${key}: no such object`);
  const metadata = await parquetMetadataAsync({
    byteLength: bytes,
    slice: async (start, end = bytes) => {
      const part = await store.read(key, start, end);
      return part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength) as ArrayBuffer;
    },
  });
  const [, ...leaves] = metadata.schema;
  return {
    bytes,
    rows: Number(metadata.num_rows),
    rowGroups: metadata.row_groups.length,
    columns: leaves.map((element) => ({
      name: element.name,
      type: element.type,
      typeLength: element.type_length,
      repetition: element.repetition_type,
      logical: describeLogicalType(element.logical_type),
    })),
  };
}

function describeLogicalType(logical: { type: string; [key: string]: unknown } | undefined): string | undefined {
  if (!logical) return undefined;
  if (logical.type === 'DECIMAL') return `DECIMAL(${logical.precision},${logical.scale})`;
  if (logical.type === 'TIMESTAMP') return `TIMESTAMP(${logical.unit},${logical.isAdjustedToUTC ? 'UTC' : 'local'})`;
  return logical.type;
}
