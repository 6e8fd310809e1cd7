import type { DuckDbApi, DuckDbInstance } from './tool-types';
import { requireTestTool } from './tools';

/**
 * One archived row as DuckDB reads it, every value as exact text: DECIMAL as DuckDB prints
 * decimal(38,18) (18 fraction digits), timestamps as microseconds since the epoch, integers as
 * text, JSON and text as they are. NULL stays null.
 */
export type ArchivedRow = Record<string, string | null>;

/** A column of the file as DuckDB sees it: `DECIMAL(38,18)`, `TIMESTAMP WITH TIME ZONE`, `BIGINT`... */
export interface ArchivedColumn {
  name: string;
  type: string;
}

/**
 * Reads a Parquet file with DuckDB, a reader independent of the writer (arrow-rs), so a test
 * compares PostgreSQL with what another implementation finds in the file. Rows come ordered by
 * `orderBy` (default `id`), those matching `where` (SQL) when given.
 */
/** A DuckDB database in memory (DuckDB comes with the test tools, test/tools/). */
export function duckDbInMemory(): Promise<DuckDbInstance> {
  return requireTestTool<DuckDbApi>('@duckdb/node-api').DuckDBInstance.create(':memory:');
}

export async function readArchivedFile(
  path: string,
  orderBy = 'id',
  where?: string,
): Promise<{ columns: ArchivedColumn[]; rows: ArchivedRow[] }> {
  const instance = await duckDbInMemory();
  const connection = await instance.connect();
  try {
    const file = `'${path.replaceAll("'", "''")}'`;
    const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${file}, hive_partitioning = false)`);
    const columns = described.getRowObjectsJson().map((row) => ({ name: String(row.column_name), type: String(row.column_type) }));
    const select = columns.map(({ name, type }) => `${exactText(`"${name}"`, type)} AS "${name}"`).join(', ');
    const result = await connection.runAndReadAll(
      `SELECT ${select} FROM read_parquet(${file}, hive_partitioning = false)${where ? ` WHERE ${where}` : ''} ORDER BY "${orderBy}"`,
    );
    const rows = result
      .getRowObjectsJson()
      .map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? null : String(v)])));
    return { columns, rows };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function exactText(column: string, type: string): string {
  if (type.startsWith('TIMESTAMP')) return `epoch_us(${column})::VARCHAR`;
  return `${column}::VARCHAR`;
}
