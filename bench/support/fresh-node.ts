import { spawn, spawnSync } from 'node:child_process';

const MARK = 'BENCH ';

/** The child's script: `report(value)` sends a value back on stderr (stdout is left to a handler's logs and EMF). */
function childArgs(script: string): string[] {
  const report = `const report = (value) => process.stderr.write(${JSON.stringify(MARK)} + JSON.stringify(value) + '\\n');`;
  return ['--input-type=module', '-e', `${report}\n${script}`];
}

function reported<T>(stderr: string, status: number | null): T {
  const line = stderr.split('\n').find((l) => l.startsWith(MARK));
  if (!line) throw new Error(`the child process reported nothing (exit ${status}): ${stderr}`);
  return JSON.parse(line.slice(MARK.length)) as T;
}

/**
 * Runs an ES module `script` in a new node process (performance.now() there counts from that
 * process's start) and returns what it passed to `report(value)`.
 */
export function inFreshNode<T>(script: string, env: Record<string, string | undefined>): T {
  const child = spawnSync(process.execPath, childArgs(script), { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  return reported<T>(child.stderr, child.status);
}

/** inFreshNode without blocking this process: its timers (a lock watcher) keep running meanwhile. */
export function inFreshNodeAsync<T>(script: string, env: Record<string, string | undefined>): Promise<T> {
  const child = spawn(process.execPath, childArgs(script), {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => {
      try {
        resolve(reported<T>(stderr, status));
      } catch (error) {
        reject(error);
      }
    });
  });
}
