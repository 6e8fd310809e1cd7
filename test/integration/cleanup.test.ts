import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling';
import { isRunning, makeScratchDir } from '../support/scratch';

it('a process that dies with a test server running leaves neither the server nor its directory behind', () => {
  // Open to the unprivileged user the server runs as when the tests run as root.
  const tmp = makeScratchDir(tmpdir(), 'crash-');
  const child = spawnSync(join(PROJECT_ROOT, 'node_modules/.bin/tsx'), [join(PROJECT_ROOT, 'test/fixtures/guards/crashing-server.ts')], {
    // The major of this run (npm run test:matrix sets it): the servers of 12-17 are started by our own code.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmp, PERPS_TEST_PG_VERSION: process.env.PERPS_TEST_PG_VERSION },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(child.stderr).toContain('dies with its server running');
  expect(child.status).toBe(1);
  const pid = Number(/^postmaster (\d+)$/m.exec(child.stdout)?.[1]);
  expect(pid).toBeGreaterThan(0);
  expect(isRunning(pid)).toBe(false);
  // tsx keeps its compile cache in the temp folder it is given (and the file's own is removed after it).
  expect(readdirSync(tmp).filter((name) => !name.startsWith('tsx-'))).toEqual([]);
});
