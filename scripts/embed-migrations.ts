/**
 * Writes functions/operations/migrate/embedded-migrations.ts from migrations/*.sql, so the SQL travels inside
 * every bundle (a Lambda has no migrations/ folder). A unit test fails when the two disagree.
 */
import { writeFileSync } from 'node:fs';
import { readMigrationFiles, renderEmbeddedMigrations } from '../functions/operations/migrate/migration-files';

const target = new URL('../functions/operations/migrate/embedded-migrations.ts', import.meta.url);
writeFileSync(target, renderEmbeddedMigrations(readMigrationFiles()));
console.error(`wrote ${target.pathname}`);
