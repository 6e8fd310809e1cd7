import type { TimeSeriesTable } from '../tables';

/**
 * The archive's shape, shared by the writer, the reader, the ledger and the stack's Glue tables:
 * which columns each table's Parquet files hold, as which types, under which object keys. A
 * migration that changes a time-series table changes this too (a test compares it with the
 * migrated catalog), and the Glue tables follow from it.
 */

/** How a column is stored: its Parquet type (see parquet) and its Athena type (ATHENA_TYPES). */
export type ArchiveColumnKind = 'int32' | 'int64' | 'text' | 'timestamp' | 'decimal' | 'json';

export interface ArchiveColumn {
  name: string;
  kind: ArchiveColumnKind;
  nullable: boolean;
}

/**
 * Every NUMERIC column is archived as DECIMAL(38,18) (FIXED_LEN_BYTE_ARRAY(16)): up to 20 integer
 * and 18 fraction digits, exact. A value outside it (abs >= 1e20, more than 18 significant
 * fraction digits, NaN, Infinity) is refused before anything is written. One fixed type keeps one
 * Glue schema for every day.
 */
export const ARCHIVE_DECIMAL = { precision: 38, scale: 18 } as const;

/** The PostgreSQL type (`format_type`) each kind archives. */
export const POSTGRES_TYPES: Record<ArchiveColumnKind, string> = {
  int32: 'integer',
  int64: 'bigint',
  text: 'text',
  timestamp: 'timestamp with time zone',
  decimal: 'numeric',
  json: 'jsonb',
};

/** The Athena (Glue) column type of each kind. Athena has no JSON type: JSONB is its text. */
export const ATHENA_TYPES: Record<ArchiveColumnKind, string> = {
  int32: 'int',
  int64: 'bigint',
  text: 'string',
  timestamp: 'timestamp',
  decimal: `decimal(${ARCHIVE_DECIMAL.precision},${ARCHIVE_DECIMAL.scale})`,
  json: 'string',
};

const column = (name: string, kind: ArchiveColumnKind, nullable = true): ArchiveColumn => ({ name, kind, nullable });

/** The columns every time-series table starts with (migrations/0001_schema.sql). */
const LEADING: readonly ArchiveColumn[] = [
  column('id', 'int64', false),
  column('exchange_id', 'int32', false),
  column('market_id', 'int64'),
  column('symbol', 'text', false),
  column('ts', 'timestamp', false),
  column('received_at', 'timestamp'),
];

/** Each time-series table's columns, in table order. */
export const ARCHIVE_COLUMNS: Record<TimeSeriesTable, readonly ArchiveColumn[]> = {
  tickers: [
    ...LEADING,
    ...[
      'last_price',
      'mark_price',
      'index_price',
      'best_bid',
      'best_ask',
      'volume_24h',
      'turnover_24h',
      'price_change_24h',
      'high_24h',
      'low_24h',
    ].map((name) => column(name, 'decimal')),
  ],
  orderbooks: [
    ...LEADING,
    column('bids_notional', 'decimal'),
    column('asks_notional', 'decimal'),
    column('raw_book', 'json'),
    column('spread_bps', 'decimal'),
  ],
  trades: [
    ...LEADING,
    column('trade_id', 'text'),
    column('price', 'decimal', false),
    column('size', 'decimal', false),
    column('side', 'text'),
    column('raw', 'json'),
  ],
  funding_rates: [...LEADING, column('rate', 'decimal', false), column('next_rate', 'decimal'), column('raw', 'json')],
};

/** `archive`: days a closed day partition waits before it is archived (payload, ARCHIVE_AFTER_DAYS, CDK context). */
export const ARCHIVE_AFTER_DAYS = { min: 1, max: 36_500, default: 2 } as const;

/** The key prefix when none is given (ARCHIVE_PREFIX). */
export const DEFAULT_ARCHIVE_PREFIX = 'perps-archive';

/**
 * The environment variables that configure archiving. The stack sets ARCHIVE_BUCKET and
 * ARCHIVE_PREFIX on the archive, restore and prune functions; "archiving is configured" means
 * ARCHIVE_BUCKET (or, locally, an archive directory) is set.
 */
export const ARCHIVE_VARIABLES = {
  bucket: 'ARCHIVE_BUCKET',
  prefix: 'ARCHIVE_PREFIX',
  afterDays: 'ARCHIVE_AFTER_DAYS',
  /** An S3-compatible endpoint instead of AWS S3 (local runs and tests). */
  endpointUrl: 'ARCHIVE_S3_ENDPOINT_URL',
  /** Local only: a directory instead of a bucket (the runner's --to DIR). */
  directory: 'ARCHIVE_DIR',
} as const;

/** The folder (Glue table location) of one table's archive: `<prefix>/<table>/`. */
export function archiveTablePrefix(prefix: string, table: TimeSeriesTable): string {
  return `${prefix}/${table}/`;
}

/** One day's object: `<prefix>/<table>/day=YYYY-MM-DD/<table>_YYYY_MM_DD.parquet` (Hive-style, for partition projection). */
export function archiveObjectKey(prefix: string, table: TimeSeriesTable, day: string): string {
  return `${archiveTablePrefix(prefix, table)}day=${day}/${table}_${day.replaceAll('-', '_')}.parquet`;
}

/** One row of the archive ledger (table `archive_ledger`): written only after the object was verified. */
export interface ArchiveLedgerRow {
  table_name: TimeSeriesTable;
  /** YYYY-MM-DD, the partition's UTC day. */
  day: string;
  /** Where the object lives: `s3://<bucket>` or `file://<absolute directory>`. */
  location: string;
  object_key: string;
  rows: number;
  bytes: number;
  /** Order-independent checksum of the partition's rows, as exported (see the archive module). */
  checksum: string;
  archived_at: string;
}
