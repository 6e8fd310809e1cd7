import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../functions/cli/cli';
import { recordOutput } from './secret-guard';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the local runner in-process with captured streams; stdin is not a terminal unless terminalInput is given. */
export async function cli(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; terminalInput?: string; terminalStderr?: boolean } = {},
): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: options.terminalStderr === true });
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (chunk) => out.push(String(chunk)));
  stderr.on('data', (chunk) => err.push(String(chunk)));
  // With terminalInput, stdin pretends to be a terminal on which the user types that text.
  const stdin = Object.assign(new PassThrough(), { isTTY: options.terminalInput !== undefined });
  if (options.terminalInput !== undefined) stdin.end(options.terminalInput);
  const code = await runCli(argv, {
    stdout,
    stderr,
    stdin,
    env: options.env ?? {},
    cwd: options.cwd ?? fileURLToPath(new URL('.', import.meta.url)),
    version: '0.0.0-test',
  });
  // Only the command names the capture: argv may carry a URL with a password.
  recordOutput(`runner stdout of ${argv[0] ?? '(no command)'}`, out.join(''));
  recordOutput(`runner stderr of ${argv[0] ?? '(no command)'}`, err.join(''));
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs `npm run local -- ...` the way a user does (the launcher, scripts/local.mjs, on the
 * prebuilt runner: the integration project's global setup builds it) in `cwd`.
 */
export function spawnCli(argv: string[], options: { env?: NodeJS.ProcessEnv; cwd: string }): CliResult {
  const result = spawnSync(process.execPath, [`${root}scripts/local.mjs`, ...argv], {
    cwd: options.cwd,
    // TMPDIR: the test file's own temp directory, removed after it.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...options.env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  // Only the command names the capture: argv may carry a URL with a password.
  recordOutput(`npm run local stdout of ${argv[0] ?? '(no command)'}`, result.stdout);
  recordOutput(`npm run local stderr of ${argv[0] ?? '(no command)'}`, result.stderr);
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
