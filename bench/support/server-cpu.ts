import { readFileSync } from 'node:fs';
import pg from 'pg';

/**
 * CPU seconds a local server has spent so far in sessions that have ended: the postmaster's
 * reaped children (cutime + cstime in /proc), which take every backend and parallel worker once
 * it exits. Null when the server is not on this machine (BENCH_DATABASE_URL elsewhere).
 */
export async function endedSessionsCpuSeconds(adminUrl: string): Promise<number | null> {
  const client = new pg.Client(adminUrl);
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: string }>(`SELECT split_part(pg_read_file('postmaster.pid'), E'\\n', 1) AS pid`);
    // Fields after the command name (which may hold spaces): utime, stime, cutime, cstime are the 14th-17th.
    const stat = readFileSync(`/proc/${Number(rows[0]?.pid)}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return null;
  } finally {
    await client.end();
  }
}
