import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';

/**
 * A new embedded database starts from a data directory made once by initdb and committed
 * (`npm run embedded-template`), not from a fresh initdb: PGlite runs initdb in a second
 * PostgreSQL instance whose data directory is copied in memory as a tarball, which made a first
 * `init` peak near 600 MB; loading the 4.5 MB template peaks near 240 MB and takes less time.
 * A template serves only the PGlite version that made it (its catalog must match), so its name
 * carries that version; with none for the installed PGlite, a new database is made by initdb as
 * before (and a unit test asks for the template to be made again).
 */
export const EMBEDDED_TEMPLATE_DIR = join(projectRoot(), 'functions', 'cli', 'embedded-template');

/** How the template's initdb ran: 16 MB of shared buffers instead of 128 MB, 1 MB WAL segments instead of 16 MB. */
export const INITDB_FLAGS = ['--set', 'shared_buffers=16MB', '--wal-segsize=1'];

/** The installed PGlite's version (its package.json, which its exports do not list: read beside its entry). */
export function pgliteVersion(): string {
  return (JSON.parse(readFileSync(join(pglitePackageDir(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The template file for a PGlite version. */
export function templateFile(version = pgliteVersion()): string {
  return join(EMBEDDED_TEMPLATE_DIR, `pglite-${version}.tar.gz`);
}

/** The template of the installed PGlite, when there is one. */
export function embeddedTemplate(): Blob | undefined {
  const file = templateFile();
  return existsSync(file) ? new Blob([readFileSync(file)]) : undefined;
}

/** The folder holding node_modules: the runner runs from the sources (tsx) or from dist/cli's chunks. */
function projectRoot(): string {
  const dir = pglitePackageDir();
  return dir.slice(0, dir.lastIndexOf(`${sep}node_modules${sep}`));
}

function pglitePackageDir(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const marker = join('node_modules', '@electric-sql', 'pglite');
  return entry.slice(0, entry.lastIndexOf(marker) + marker.length);
}
