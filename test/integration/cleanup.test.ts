import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling';
import { isRunning, makeScratchDir } from '../support/scratch';

/**
 * Runs test/fixtures/guards/crashing-server.ts with its own temp folder; `interrupt` sends it
 * SIGINT once its server runs. Returns its exit, its output and the server's process id.
 */
async function runFixture(tmp: string, interrupt: boolean) {
  // Plain node with tsx's loader, not the tsx command, which handles signals itself.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'test/fixtures/guards/crashing-server.ts'), ...(interrupt ? ['wait'] : [])],
    // The major of this run (npm run test:matrix sets it): the test support starts every major the same way.
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmp, PERPS_TEST_PG_VERSION: process.env.PERPS_TEST_PG_VERSION } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += String(chunk);
    if (interrupt && /^postmaster \d+$/m.test(stdout)) child.kill('SIGINT');
  });
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (...end) => resolve(end)));
  return { code, signal, stdout, stderr, pid: Number(/^postmaster (\d+)$/m.exec(stdout)?.[1]) };
}

it.each([
  ['dies of an uncaught error', false],
  ['is interrupted', true],
])('a process that %s with a test server running leaves neither the server nor its directory behind', async (_, interrupt) => {
  // Open to the unprivileged user the server runs as when the tests run as root.
  const tmp = makeScratchDir(tmpdir(), 'crash-');
  const run = await runFixture(tmp, interrupt);
  if (interrupt) expect(run.code, run.stderr).toBe(130);
  else {
    expect(run.stderr).toContain('dies with its server running');
    expect(run.code).toBe(1);
  }
  expect(run.pid).toBeGreaterThan(0);
  expect(isRunning(run.pid)).toBe(false);
  // tsx keeps its compile cache in the temp folder it is given (and the file's own is removed after it).
  expect(readdirSync(tmp).filter((name) => !name.startsWith('tsx-'))).toEqual([]);
});
