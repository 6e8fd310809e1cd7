import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { startEmbeddedDatabase } from './embedded';
import { startPasswordProxy } from './password-proxy';

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
 * ingester or Grafana can look at it. PGlite itself lets anyone in, so the port is a password
 * proxy (password-proxy.ts) with a password generated per run, which only the URL printed on
 * stdout carries. It holds the embedded database's lock file meanwhile, like every other run: a
 * second run exits with code 4 while it serves.
 */
export async function serveEmbedded(options: ServeOptions): Promise<void> {
  const embedded = await startEmbeddedDatabase(options.dir);
  try {
    // 144 random bits, URL-safe: nothing to escape in the URL.
    const password = randomBytes(18).toString('base64url');
    const proxy = await startPasswordProxy({ port: options.port, password, upstream: embedded.socket });
    try {
      options.print(`postgres://postgres:${password}@${proxy.address}/postgres?sslmode=disable`);
      options.tell(
        `serving the embedded PostgreSQL (PGlite) in ${options.dir} on ${proxy.address} (loopback only, with the password in the URL above, made for this run; PGlite runs one query at a time for all clients); Ctrl-C to stop`,
      );
      if (!options.signal.aborted) await once(options.signal, 'abort');
    } finally {
      await proxy.stop();
    }
  } finally {
    await embedded.stop();
  }
}
