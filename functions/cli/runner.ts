import type { Readable, Writable } from 'node:stream';
import type { CommandLine } from '../shared/operation-definition';
import type { HandlerSet } from './handlers';
import type { Invocation } from './invocation';
import type { FlagValues, OutputFormat } from './options';
import type { RunnerOutput } from './output';
import type { loadEnvironment, RunnerSettings } from './settings';

export interface CliIo {
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  version: string;
  /**
   * A signal that aborts on Ctrl-C or SIGTERM, for `serve` (main.ts installs the handlers only
   * when asked, so every other command keeps Node's default Ctrl-C). None: serve stops at once.
   */
  stopSignal?: () => AbortSignal;
}

/** What a command runs with: the process, the loaded environment, the output and the handlers. */
export interface Runner {
  io: CliIo;
  environment: ReturnType<typeof loadEnvironment>;
  output: RunnerOutput;
  handlers: HandlerSet;
  /** Set by a run of handlers once resolved: a connection failure then says where the URL came from. */
  settings?: RunnerSettings;
}

/** A command line a command accepted: how to print, and what to run. */
export interface CommandRun {
  kind: 'run';
  format: OutputFormat;
  databaseUrl: string | undefined;
  /** The handler invocations it runs (init, an operation, invoke); none for the runner's other commands. */
  invocation?: Invocation;
  /** Runs it; returns the exit code, or throws the error that decides it. */
  run(runner: Runner): Promise<number>;
}

/** What follows the command's name on the command line. */
export interface CommandArguments {
  /** The name as typed (an alias: `clean`), for messages. */
  name: string;
  positionals: string[];
  values: FlagValues;
  cwd: string;
  /** The environment with .env over it: a dry run's scheduled defaults. */
  env: Record<string, string | undefined>;
}

/** One command of the runner: the operations' commands, init, and the runner's own. */
export interface RunnerCommand {
  readonly name: string;
  readonly aliases: readonly string[];
  /** Its own flags, as parseArgs reads them (the global ones are every command's). */
  readonly options: Readonly<Record<string, { type: 'string' | 'boolean' }>>;
  /**
   * Every flag it takes, the global ones included, for the nearest name to a mistyped flag.
   * None (a runner-only command): a mistyped flag is matched against every flag of the runner.
   */
  readonly accepts?: readonly string[];
  /** --help: its line (the synopsis, default the names, and what it does), and a line per flag. */
  readonly usage: CommandLine['usage'];
  /** `<command> --help` and `help <command>`. */
  help(): string;
  /** Checks what follows the name; every problem is an InputError raised before any connection. */
  parse(line: CommandArguments): CommandRun;
}
