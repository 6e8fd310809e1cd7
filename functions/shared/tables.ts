/** The time-series tables: partitioned by day on `ts`, each with a DEFAULT partition. */
export const TIME_SERIES_TABLES = ['tickers', 'orderbooks', 'trades', 'funding_rates'] as const;
export type TimeSeriesTable = (typeof TIME_SERIES_TABLES)[number];

/** Every table of the schema, in the order reports list them. */
export const ALL_TABLES = ['exchanges', 'markets', ...TIME_SERIES_TABLES, 'ingest_events'] as const;
export type TableName = (typeof ALL_TABLES)[number];

/** Tables emptied by `prune --truncate`; exchanges stays seeded. */
export const TRUNCATABLE_TABLES = ['markets', ...TIME_SERIES_TABLES, 'ingest_events'] as const satisfies readonly TableName[];

/** Name of a time-series table's DEFAULT partition. */
function defaultPartitionName(table: TimeSeriesTable): string {
  return `${table}_default`;
}

export function isTimeSeriesTable(name: string): name is TimeSeriesTable {
  return (TIME_SERIES_TABLES as readonly string[]).includes(name);
}

export function isDefaultPartitionName(name: string): boolean {
  return TIME_SERIES_TABLES.some((table) => defaultPartitionName(table) === name);
}
