import { ensureTestTools } from './tools';

/**
 * Vitest global setup of every run: the test tools (PostgreSQL servers, Parquet readers,
 * s3rver; test/tools/) installed before any test file loads one, so that parallel files never
 * race to install them.
 */
export default function setup(): void {
  ensureTestTools();
}
