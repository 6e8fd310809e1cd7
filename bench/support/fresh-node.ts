import { spawnSync } from 'node:child_process';

const MARK = 'BENCH ';

/**
 * Runs an ES module `script` in a new node process (performance.now() there counts from that
 * process's start) and returns what it passed to `report(value)`. The value travels on stderr:
 * stdout is left to a handler's logs and EMF.
 */
export function inFreshNode<T>(script: string, env: Record<string, string | undefined>): T {
  const report = `const report = (value) => process.stderr.write(${JSON.stringify(MARK)} + JSON.stringify(value) + '\\n');`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `${report}\n${script}`], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  const line = child.stderr.split('\n').find((l) => l.startsWith(MARK));
  if (!line) throw new Error(`the child process reported nothing (exit ${child.status}): ${child.stderr}`);
  return JSON.parse(line.slice(MARK.length)) as T;
}
