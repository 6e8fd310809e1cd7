import pg from 'pg';

/**
 * Samples pg_stat_activity every few milliseconds and keeps the longest-running transaction seen
 * among sessions named `applicationName`: locks are held until a transaction ends, so this is
 * the longest lock hold, to within the sampling interval.
 */
export async function watchLongestTransaction(url: string, applicationName: string, intervalMs = 5) {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-lock-watch' });
  await client.connect();
  let longest = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ ms: number | null }>(
        `SELECT max(extract(epoch FROM clock_timestamp() - xact_start) * 1000)::float8 AS ms
           FROM pg_stat_activity WHERE application_name = $1 AND xact_start IS NOT NULL`,
        [applicationName],
      );
      longest = Math.max(longest, rows[0]?.ms ?? 0);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop(): Promise<number> {
      running = false;
      await loop;
      await client.end();
      return longest;
    },
  };
}
