import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { atExit, makeScratchDir, removeTree } from './scratch';

// A vitest setupFiles module, first in the list: each test worker gets its own temporary
// directory inside the run's (TMPDIR, set by the global setup), and TMPDIR points at it, so
// whatever a test file or the processes it starts put in the temp folder is removed after the
// file, whether its tests passed or failed. A worker that runs several files (isolate off) keeps
// the directory and has it emptied after each: libraries such as the CDK remember the temp folder
// they first saw. Registered first, its afterAll runs last, after the file's own hooks have
// stopped their servers.

const WORKER_DIR = Symbol.for('perps-test-worker-dir');
const state = globalThis as typeof globalThis & { [WORKER_DIR]?: string };
if (!state[WORKER_DIR]) {
  const dir = makeScratchDir(tmpdir(), 'worker-');
  state[WORKER_DIR] = dir;
  atExit(() => removeTree(dir));
}
const dir = state[WORKER_DIR];
process.env.TMPDIR = dir;

afterAll(() => {
  for (const entry of readdirSync(dir)) removeTree(join(dir, entry));
});
