import type pg from 'pg';
import { quoteIdent } from './db/identifiers';

/**
 * A CTE `symbols(symbol)` listing the distinct symbols of one relation by a skip scan over its
 * (symbol, ts DESC) index: one index descent per symbol, so the cost grows with the number of
 * symbols, not rows. PostgreSQL before 18 has no skip scan of its own, hence the recursion.
 */
function symbolsCte(relation: string): string {
  const rel = quoteIdent(relation);
  return `WITH RECURSIVE symbols AS (
       (SELECT symbol FROM ${rel} ORDER BY symbol LIMIT 1)
       UNION ALL
       SELECT (SELECT t.symbol FROM ${rel} t WHERE t.symbol > s.symbol ORDER BY t.symbol LIMIT 1)
         FROM symbols s WHERE s.symbol IS NOT NULL
     )`;
}

export interface SymbolActivity {
  symbol: string;
  /** Newest ts not after `now`; null when the symbol only has future rows here. */
  latest_ts: Date | null;
  /** Rows with ts in (now - 1 hour, now]. */
  rows_last_hour: number;
}

/**
 * Per symbol of one relation: newest ts and rows of the last hour. Each figure is an index
 * probe or an index range over the last hour, so the cost grows with symbols and the last
 * hour's rows, never with the relation's size.
 */
export async function symbolActivity(client: pg.ClientBase, relation: string, now: Date): Promise<SymbolActivity[]> {
  const rel = quoteIdent(relation);
  const { rows } = await client.query<{ symbol: string; latest_ts: Date | null; rows_last_hour: string }>(
    `${symbolsCte(relation)}
     SELECT s.symbol,
            (SELECT t.ts FROM ${rel} t WHERE t.symbol = s.symbol AND t.ts <= $1 ORDER BY t.ts DESC LIMIT 1) AS latest_ts,
            (SELECT count(*) FROM ${rel} t WHERE t.symbol = s.symbol AND t.ts > $2 AND t.ts <= $1) AS rows_last_hour
       FROM symbols s WHERE s.symbol IS NOT NULL`,
    [now, new Date(now.getTime() - 3_600_000)],
  );
  return rows.map((row) => ({ symbol: row.symbol, latest_ts: row.latest_ts, rows_last_hour: Number(row.rows_last_hour) }));
}
