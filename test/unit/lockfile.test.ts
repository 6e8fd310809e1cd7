import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (file: string) => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));

/**
 * `npm install` rewrites the lock file's root entry to match package.json, so a root entry that
 * disagrees (the PostgreSQL 12-17 binaries once sat in both `dependencies` and
 * `optionalDependencies` there) leaves a fresh clone dirty after the Quick start's first command.
 */
describe('package-lock.json', () => {
  const manifest = read('package.json');
  const root = read('package-lock.json').packages[''];

  it.each(['dependencies', 'devDependencies', 'optionalDependencies'])(
    'lists exactly the %s of package.json in its root entry',
    (section) => {
      expect(root[section] ?? {}).toEqual(manifest[section] ?? {});
    },
  );
});
