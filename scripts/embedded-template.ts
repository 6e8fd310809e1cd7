/**
 * `npm run embedded-template`: makes the data directory a new embedded database starts from
 * (functions/cli/embedded-template/pglite-<version>.tar.gz, see embedded-template.ts) with the
 * installed PGlite, and removes the templates of other versions. Run it after changing PGlite's
 * version; a unit test fails until then.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { EMBEDDED_TEMPLATE_DIR, INITDB_FLAGS, templateFile } from '../functions/cli/embedded-template';

const db = await PGlite.create({ initDbStartParams: INITDB_FLAGS });
const dump = await db.dumpDataDir('gzip');
await db.close();
mkdirSync(EMBEDDED_TEMPLATE_DIR, { recursive: true });
const file = templateFile();
writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
for (const name of readdirSync(EMBEDDED_TEMPLATE_DIR)) if (name !== basename(file)) rmSync(join(EMBEDDED_TEMPLATE_DIR, name));
console.error(`wrote ${file}`);
