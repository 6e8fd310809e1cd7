import type { OperationReport } from '../operations/registry';
import { DatabaseUnavailableError, PerpsDbError } from '../shared/errors';
import { parseCommandLine } from './command-line';
import { HandlerSet } from './handlers';
import { assertNoFlagsTakenByNpm, withNpmHint } from './npm-arguments';
import { RunnerOutput } from './output';
import type { CliIo, Runner } from './runner';
import { loadEnvironment, type RunnerSettings } from './settings';
import { aimSuggestedCommands } from './suggested-commands';

/**
 * The local runner: flags -> payloads -> the Lambda handlers (same middleware chain, a
 * Lambda-like context) -> table or JSON. Returns the exit code; the mapping from errors to exit
 * codes lives here and nowhere else.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const output = new RunnerOutput(io);
  const handlers = new HandlerSet();
  let runner: Runner | undefined;
  try {
    const environment = loadEnvironment(io.cwd, io.env);
    assertNoFlagsTakenByNpm(argv, io.env);
    const parsed = parseWithNpmHint(argv, io, environment.values);
    if (parsed.kind === 'help') return output.info(parsed.text);
    if (parsed.kind === 'version') return output.info(`perps-stats-db ${io.version}`);
    output.format = parsed.format;
    runner = { io, output, handlers, environment };
    return await parsed.run(runner);
  } catch (error) {
    const code = exitCodeOf(error, output, runner?.settings);
    // Stopped by Ctrl-C or SIGTERM: the shell's code for an interrupted command.
    return handlers.stop?.aborted ? 130 : code;
  } finally {
    await handlers.close();
  }
}

function parseWithNpmHint(argv: string[], io: CliIo, values: Record<string, string | undefined>): ReturnType<typeof parseCommandLine> {
  try {
    return parseCommandLine(argv, io.cwd, values);
  } catch (error) {
    throw withNpmHint(error, argv, io.env);
  }
}

/** The one place errors become exit codes: the error's own, after its report and message. */
function exitCodeOf(error: unknown, output: RunnerOutput, settings: RunnerSettings | undefined): number {
  if (!(error instanceof PerpsDbError)) {
    output.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  // The operation's own report so far: what was done before it failed.
  if (error.report) output.print('', [error.report as OperationReport]);
  const where = error instanceof DatabaseUnavailableError && settings ? ` (URL from ${settings.urlSource})` : '';
  output.error(`error: ${aimSuggestedCommands(error.message, settings)}${where}`);
  return error.exitCode;
}
