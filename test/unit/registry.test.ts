import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../../functions/cli/usage';
import { parseHandlerEnvironment } from '../../functions/lambda/environment';
import { OPERATION_IDS, OPERATIONS } from '../../functions/operations/registry';
import { LOCKING_OPERATIONS } from '../../functions/shared/db/sessions';
import { OVERDUE_AFTER_MINUTES } from '../../functions/shared/job-runs';
import { HANDLER_OPERATIONS, PROJECT_ROOT } from '../../infra/bundling';
import { cli } from '../support/cli';
import { sourceFiles } from '../support/source-files';

describe('the operation registry', () => {
  it('is where the handler bundles, the stack functions and the runner commands come from', async () => {
    expect(HANDLER_OPERATIONS).toEqual(OPERATION_IDS);
    expect(OPERATION_IDS).toEqual(['migrate', 'partitions', 'prune', 'stats', 'vacuum', 'archive', 'restore']);
    for (const operation of Object.values(OPERATIONS)) {
      const names = [...(operation.cli.aliases ?? []), operation.id];
      expect(USAGE).toContain(`  ${operation.cli.usage.synopsis ?? names.join(' | ')}`);
      for (const name of names)
        expect((await cli([name, '--no-such-flag'])).stderr).toBe('error: unknown flag --no-such-flag; see --help\n');
    }
    expect((await cli(['compact'])).stderr).toMatch(
      /use one of init, migrate, partitions, clean \(prune\), stats, vacuum, archive, restore, invoke, serve, sample-data;/,
    );
  });

  it('names in the busy-lock message exactly the operations that take the maintenance lock', () => {
    const lockers = sourceFiles('functions/operations').flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/withAdvisoryLock\(\w+, '(\w+)'/g)].map(([, operation]) => operation),
    );
    expect([...LOCKING_OPERATIONS].sort()).toEqual([...new Set(lockers)].sort());
  });

  it('lines up every command of --help: a synopsis too long for its column puts the summary on the next line', () => {
    const start = USAGE.split('\n').indexOf('Commands:');
    const section = USAGE.split('\n').slice(start + 1);
    const lines = section.slice(0, section.indexOf(''));
    const commands = lines.map((line, index) => [line, lines[index + 1] ?? ''] as const).filter(([line]) => /^ {2}\S/.test(line));
    expect(commands.length).toBeGreaterThan(10);
    for (const [line, next] of commands) {
      const summaryInColumn = line[37] === ' ' && /^\S/.test(line.slice(38));
      const summaryBelow = /^ {38}\S/.test(next);
      expect(summaryInColumn || summaryBelow, line).toBe(true);
    }
  });

  it('gives every operation, in its order, an overdue limit in job-runs.ts exactly when a deployment schedules it', () => {
    const everythingOn = {
      daysAhead: 7,
      deleteRowsOlderThanDays: 30,
      dropPartitionsOlderThanDays: 30,
      storageLimitBytes: 1,
      dataAgeAlarmSeconds: 60,
      archive: { afterDays: 2 },
    };
    expect(Object.keys(OVERDUE_AFTER_MINUTES)).toEqual(OPERATION_IDS);
    for (const operation of Object.values(OPERATIONS)) {
      const scheduled = operation.deploy.schedule?.(everythingOn) !== undefined;
      expect(OVERDUE_AFTER_MINUTES[operation.id] !== null, operation.id).toBe(scheduled);
    }
  });

  it('gives every handler the defaults of every operation, by payload field', () => {
    const parsed = parseHandlerEnvironment({ DATABASE_URL: 'postgres://h/db', PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS: '30' });
    expect(parsed.defaults).toEqual({
      migrate: {},
      partitions: { daysAhead: 7 },
      prune: { olderThanDays: undefined, dropPartitionsOlderThanDays: 30 },
      stats: {},
      vacuum: {},
      archive: { archiveAfterDays: 2 },
      restore: {},
    });
  });
});

/** The packages a module loads when it runs: its own imports and those of the project files it imports, type-only imports left out. */
function packagesLoadedBy(entry: string, seen = new Set<string>()): Set<string> {
  const packages = new Set<string>();
  if (seen.has(entry)) return packages;
  seen.add(entry);
  const source = readFileSync(entry, 'utf8');
  for (const [, typeOnly, specifier = ''] of source.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^;]*?\sfrom\s+)?'([^']+)'/gms)) {
    if (typeOnly) continue;
    if (!specifier.startsWith('.')) {
      packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? specifier));
      continue;
    }
    const file = [`${resolve(dirname(entry), specifier)}.ts`, join(resolve(dirname(entry), specifier), 'index.ts')].find(existsSync);
    if (!file) throw new Error(`${relative(PROJECT_ROOT, entry)}: cannot resolve ${specifier}`);
    for (const name of packagesLoadedBy(file, seen)) packages.add(name);
  }
  return packages;
}

/** The project modules a module imports directly (type-only imports too), relative to the project root. */
function projectImportsOf(file: string): string[] {
  const source = readFileSync(join(PROJECT_ROOT, file), 'utf8');
  return [...source.matchAll(/^(?:import|export)\s+(?:type\s+)?(?:[^;]*?\sfrom\s+)?'(\.[^']+)'/gms)].map(([, specifier = '']) =>
    relative(PROJECT_ROOT, resolve(dirname(join(PROJECT_ROOT, file)), specifier)),
  );
}

describe('layers', () => {
  it('the stack loads no pg, middy or Powertools at synth: the definitions load their operation when it runs', () => {
    const loaded = [...packagesLoadedBy(join(PROJECT_ROOT, 'infra/app.ts'))];
    expect(loaded.filter((name) => /^pg$|^pg-|powertools|middy/.test(name))).toEqual([]);
    expect(loaded).toContain('aws-cdk-lib');
  });

  it('the stack reads its context without loading Powertools or middy at synth', () => {
    const loaded = [...packagesLoadedBy(join(PROJECT_ROOT, 'infra/config.ts'))];
    expect(loaded.filter((name) => /powertools|middy/.test(name))).toEqual([]);
    expect(loaded).toContain('zod');
  });

  it('the local runner reaches the handlers through createOperationHandler and the environment parser only', () => {
    const lambda = sourceFiles('functions/cli')
      .flatMap((file) => projectImportsOf(file))
      .filter((path) => path.startsWith('functions/lambda/'));
    expect([...new Set(lambda)].sort()).toEqual(['functions/lambda/environment', 'functions/lambda/operation-handler']);
  });

  it('an operation imports only shared/ and its own folder; shared/ imports no operation', () => {
    const crossings = sourceFiles('functions/operations').flatMap((file) => {
      const own = file.split('/').slice(0, 3).join('/');
      if (!file.includes('/', 'functions/operations/'.length)) return [];
      return projectImportsOf(file)
        .filter((target) => !target.startsWith(`${own}/`) && !target.startsWith('functions/shared/'))
        .map((target) => `${file} -> ${target}`);
    });
    const upward = sourceFiles('functions/shared').flatMap((file) =>
      projectImportsOf(file)
        .filter((target) => target.startsWith('functions/operations/'))
        .map((target) => `${file} -> ${target}`),
    );
    expect([...crossings, ...upward]).toEqual([]);
  });
});
