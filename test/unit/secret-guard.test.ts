import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling';
import { describeLeaks, findSecrets } from '../support/secret-guard';

// The suite-wide password guard (test/support/secret-guard-setup.ts) proven to catch leaks:
// its scan on made-up text, and the whole mechanism in a child vitest run over fixtures that
// leak on purpose to stdout, console.log, console.error and a test's error (the leaks, and
// what the fixtures print, stay in the child). The fixtures' admin URL comes from inject(), as
// the test server's does: the guard registers its password by itself.

const SECRETS = new Map([['p@ss/w"rd-123', 'the fixture password']]);

describe('the scan', () => {
  it('finds a secret as is, percent-encoded in a URL, and JSON-escaped once or twice, and masks it in its report', () => {
    const texts = [
      { source: 'plain', text: 'login with p@ss/w"rd-123 failed' },
      { source: 'url', text: 'postgres://app:p%40ss%2Fw%22rd-123@db/perps' },
      { source: 'json', text: JSON.stringify({ error: 'p@ss/w"rd-123' }) },
      { source: 'json in json', text: JSON.stringify({ line: JSON.stringify({ error: 'p@ss/w"rd-123' }) }) },
      { source: 'clean', text: 'postgres://app:***@db/perps p@ss/w"rd-12' },
    ];
    const leaks = findSecrets(texts, SECRETS);
    expect(leaks.map((leak) => `${leak.source}: ${leak.form}`)).toEqual([
      'plain: as is',
      'url: percent-encoded',
      'json: JSON-escaped',
      'json in json: JSON-escaped twice',
    ]);
    expect(leaks[0]?.excerpt).toBe('login with *** failed');
    const message = describeLeaks(leaks);
    expect(findSecrets([{ source: 'message', text: message }], SECRETS)).toEqual([]);
    expect(message).toMatch(/^4 secret leak\(s\): .*\n- the fixture password \(as is\) in plain: …login with \*\*\* failed…/);
  });
});

describe('the guard in a vitest run', () => {
  it('fails a file that leaks, naming each leak without the secret, and passes a file that does not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'perps-guard-'));
    try {
      const report = join(dir, 'report.json');
      const run = spawnSync(
        join(PROJECT_ROOT, 'node_modules/.bin/vitest'),
        ['run', '--config', 'test/fixtures/secret-guard/vitest.config.ts', '--reporter=json', `--outputFile=${report}`],
        { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } },
      );
      expect(run.status).toBe(1);
      const files = (JSON.parse(readFileSync(report, 'utf8')) as { testResults: { name: string; status: string; message: string }[] })
        .testResults;
      const byName = Object.fromEntries(files.map((file) => [file.name.replace(/^.*\//, ''), file]));
      expect(byName['clean.fixture.ts']?.status).toBe('passed');
      const leaky = byName['leaky.fixture.ts'];
      expect(leaky?.status).toBe('failed');
      const lines = (leaky?.message ?? '').split('\n').filter((line) => line.startsWith('- '));
      expect(lines).toEqual([
        expect.stringMatching(
          /^- the test server's admin password \(as is\) in stdout of writes the admin password to stdout: …connecting with \*\*\*/,
        ),
        expect.stringMatching(
          /^- the test server's admin password \(as is\) in console\.log of logs the admin password: …as postgres:\*\*\*…$/,
        ),
        expect.stringMatching(/^- the test server's admin password \(as is\) in the error of fails with the admin password in its error/),
        expect.stringMatching(/^- the rotation password \(percent-encoded\) in console\.error of .*: …postgres:\/\/app:\*\*\*@db\/perps…$/),
      ]);
      // The fixture's secrets (see its config and file) are nowhere in the guard's own message.
      const fixtureSecrets = new Map([
        ['fixture-pw-7Kq/', 'admin'],
        ['registered/pw@Xy9', 'registered'],
      ]);
      expect(findSecrets([{ source: 'guard message', text: leaky?.message ?? '' }], fixtureSecrets)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
