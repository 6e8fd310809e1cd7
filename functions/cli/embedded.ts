import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { LockBusyError } from '../shared/errors';
import { embeddedTemplate, INITDB_FLAGS } from './embedded-template';
import { withCopyFromStdin } from './pglite-copy-in';

export interface EmbeddedDatabase {
  /** A Unix-socket URL (`postgres://postgres@/postgres?host=<private directory>&port=5432`). */
  url: string;
  /** The socket file itself, for a relay (serve's password proxy). */
  socket: string;
  stop(): Promise<void>;
}

/**
 * PGlite's 9 MB of WebAssembly run on V8's baseline compiler only: the optimizing tier
 * recompiling PostgreSQL's hot functions cost some 100 MB more at the peak of a first `init`
 * and twice its time (measured from the template: 1.7-1.9 s and 260-277 MB with the flag,
 * 3.4-3.8 s and 343-381 MB without), for queries that are not the runner's bottleneck. V8 reads
 * the flag when it compiles a module, so it holds for the rest of the run (parquet-wasm's
 * archives of the embedded database included); runs on a real server never set it.
 */
function baselineWasmOnly(): void {
  setFlagsFromString('--liftoff-only');
}

/**
 * The database in `dir`: opened when it exists; otherwise made from the committed template of
 * the installed PGlite (see embedded-template.ts), or by initdb when there is none.
 */
async function openOrCreate(dir: string): Promise<PGlite> {
  const template = existsSync(join(dir, 'PG_VERSION')) ? undefined : embeddedTemplate();
  return PGlite.create(dir, template ? { loadDataDir: template } : { initDbStartParams: INITDB_FLAGS });
}

/** The socket's port number: only its file name (`.s.PGSQL.5432`), in a directory of its own. */
const SOCKET_PORT = 5432;

/**
 * PGlite (PostgreSQL compiled to WASM) served on a Unix socket, so the runner talks to it with
 * the same node-postgres code it uses for a real server. Data persists in `dir`.
 * PGlite has a single backend: callers must use one connection at a time.
 *
 * PGlite checks no password (any user, any password is let in as superuser), so the socket lives
 * in a directory only this user may enter (mkdtemp makes it 0700), not on a TCP port any local
 * user could reach; and PGlite writes its files 0666 whatever the umask, so the folder is made
 * the owner's alone (restrictToOwner) when it opens and when it closes.
 */
export async function startEmbeddedDatabase(dir: string): Promise<EmbeddedDatabase> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const releaseLock = lockDirectory(dir);
  const socketDir = mkdtempSync(join(socketParent(), 'perps-pglite-'));
  const socket = join(socketDir, `.s.PGSQL.${SOCKET_PORT}`);
  const cleanUp = () => {
    rmSync(socketDir, { recursive: true, force: true });
    restrictToOwner(dir);
    releaseLock();
  };
  let db: PGlite;
  try {
    restrictToOwner(dir);
    baselineWasmOnly();
    db = await openOrCreate(dir);
    restrictToOwner(dir);
  } catch (error) {
    cleanUp();
    throw error;
  }
  const server = new PGLiteSocketServer({ db: withCopyFromStdin(db), path: socket, maxConnections: 4 });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    cleanUp();
    throw error;
  }
  return {
    url: `postgres://postgres@/postgres?host=${encodeURIComponent(socketDir)}&port=${SOCKET_PORT}`,
    socket,
    async stop() {
      try {
        await server.stop();
        await db.close();
      } finally {
        cleanUp();
      }
    },
  };
}

/**
 * Where the socket's directory goes: the temporary directory, unless its path is too long for a
 * socket (at most 107 bytes on Linux, 103 on macOS, with the file name), then /tmp.
 */
function socketParent(): string {
  const parent = tmpdir();
  return parent.length + '/perps-pglite-XXXXXX/.s.PGSQL.5432'.length <= 100 ? parent : '/tmp';
}

/**
 * The embedded database's folder: the owner's alone, as PostgreSQL demands of a data directory
 * (directories 0700, files 0600). PGlite writes the files of a new database 0666 and its own
 * later files as PostgreSQL does; the walk (1,229 entries after init: 14 ms)
 * also puts right a folder an older version left open. Symbolic links are not followed.
 */
function restrictToOwner(dir: string): void {
  // Only a database folder: PERPS_EMBEDDED_DIR set to a folder of other files is not ours to change.
  if (!existsSync(join(dir, 'PG_VERSION'))) return;
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if (stat.isDirectory()) {
      if ((stat.mode & 0o777) !== 0o700) chmodSync(path, 0o700);
      for (const entry of readdirSync(path)) walk(join(path, entry));
    } else if ((stat.mode & 0o077) !== 0) {
      chmodSync(path, stat.mode & 0o700);
    }
  };
  walk(dir);
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
