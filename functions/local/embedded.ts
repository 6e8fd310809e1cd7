import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { LockBusyError } from '../core/errors';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * PGlite (PostgreSQL compiled to WASM) served on a loopback port, so the runner talks to it
 * with the same node-postgres code it uses for a real server. Data persists in `dir`.
 * PGlite has a single backend: callers must use one connection at a time.
 */
export async function startEmbeddedDatabase(dir: string, port = 0): Promise<EmbeddedDatabase> {
  mkdirSync(dir, { recursive: true });
  const releaseLock = lockDirectory(dir);
  let db: PGlite;
  try {
    db = await PGlite.create(dir);
  } catch (error) {
    releaseLock();
    throw error;
  }
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 4 });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    releaseLock();
    throw error;
  }
  const address = server.getServerConn();
  return {
    url: `postgres://postgres@${address}/postgres?sslmode=disable`,
    async stop() {
      try {
        await server.stop();
        await db.close();
      } finally {
        releaseLock();
      }
    },
  };
}

/**
 * PGlite is one process's database: two processes opening the same folder would corrupt it,
 * and they could not see each other's advisory locks either. A lock file holding our pid keeps
 * a second run out; a lock left by a process that no longer exists is taken over.
 */
function lockDirectory(dir: string): () => void {
  const file = join(dir, 'perps-stats-db.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(file, 'utf8'));
      if (isAlive(pid)) {
        throw new LockBusyError(`the embedded database in ${dir} is in use by another run (pid ${pid}); run again when it has finished`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new LockBusyError(`the embedded database in ${dir} is being locked by another run; run again when it has finished`);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
