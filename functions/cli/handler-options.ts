import type { OperationHandlerOptions } from '../lambda/operation-handler';
import type { Logger } from '../shared/log';
import { terminalJson } from '../shared/printable';
import { LocalMetrics } from './metrics';
import type { RunnerOutput } from './output';
import type { RunnerSettings } from './settings';

/** The handlers' environment, log, metrics and progress lines, as the runner shows them. */
export function handlerOptions(settings: RunnerSettings, url: string, output: RunnerOutput): OperationHandlerOptions {
  const log = stderrLogger((line) => output.error(line), settings.logLevel);
  return {
    env: { ...settings.handlerEnv, DATABASE_URL: url },
    log,
    metrics: new LocalMetrics((emf) => log.debug(`metrics ${emf}`)),
    progress: output.progressReporter(),
  };
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function stderrLogger(stderr: (line: string) => void, level: (typeof LEVELS)[number]): Logger {
  const threshold = LEVELS.indexOf(level);
  const write = (at: (typeof LEVELS)[number]) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(at) < threshold) return;
    stderr(`${at}: ${message}${fields ? ` ${terminalJson(fields)}` : ''}`);
  };
  // The only error-level lines come from the handler's outcome log (for CloudWatch); the runner
  // reports the failure itself as its last stderr line, so here they are info, not a duplicate.
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('info') };
}
