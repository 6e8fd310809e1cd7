import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';
import { atExit, makeScratchDir, removeTree } from './scratch';

// A vitest setupFiles module, first in the list: every test file gets its own temporary
// directory inside the run's (TMPDIR, set by the global setup), and TMPDIR points at it while
// the file runs, so whatever the file or the processes it starts put in the temp folder is
// removed after the file, whether its tests passed or failed. Registered first, its afterAll
// runs last, after the file's own hooks have stopped their servers.

const dir = makeScratchDir(tmpdir(), 'file-');
process.env.TMPDIR = dir;
const cancel = atExit(() => removeTree(dir));

afterAll(() => {
  removeTree(dir);
  cancel();
});
