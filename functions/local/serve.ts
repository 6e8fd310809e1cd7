import { once } from 'node:events';
import { InputError } from '../core/errors';
import { startEmbeddedDatabase } from './embedded';

/** `serve [--port N]`: what it takes. */
export interface ServeOptions {
  dir: string;
  /** 0: any free port. */
  port: number;
  /** Ends the serving (Ctrl-C / SIGTERM in the process; a test's AbortController). */
  signal: AbortSignal;
  /** stdout: the connection URL alone, for a script to read. */
  print(line: string): void;
  /** stderr: what is going on. */
  tell(line: string): void;
}

/**
 * Keeps the embedded database open on a loopback port until `signal` aborts, so psql, an
 * ingester or Grafana can look at it. It holds the embedded database's lock file meanwhile,
 * like every other run: a second run exits with code 4 while it serves.
 */
export async function serveEmbedded(options: ServeOptions): Promise<void> {
  const embedded = await startEmbeddedDatabase(options.dir, options.port);
  try {
    options.print(embedded.url);
    options.tell(
      `serving the embedded PostgreSQL (PGlite) in ${options.dir} on ${new URL(embedded.url).host} (loopback only; PGlite runs one query at a time for all clients); Ctrl-C to stop`,
    );
    if (!options.signal.aborted) await once(options.signal, 'abort');
  } finally {
    await embedded.stop();
  }
}

/** `--port N`: a TCP port, or none (any free one). */
export function servePort(raw: string | undefined): number {
  if (raw === undefined) return 0;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65_535) throw new InputError('--port: must be a port number from 1 to 65535');
  return Number(raw);
}
