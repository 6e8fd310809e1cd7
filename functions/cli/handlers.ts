import { createOperationHandler, type OperationHandler, type OperationHandlerOptions } from '../lambda/operation-handler';
import type { Operation, OperationReport } from '../operations/registry';
import type { Logger } from '../shared/log';
import { terminalJson } from '../shared/printable';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './embedded';
import { localLambdaContext, NO_DEADLINE_MS } from './lambda-context';
import { LocalMetrics } from './metrics';
import type { RunnerOutput } from './output';
import type { RunnerSettings } from './settings';

/** The handlers this run invokes, one per operation (its pool serves every invocation), and the embedded database. */
export class HandlerSet {
  /** Aborted by Ctrl-C or SIGTERM: the running operation stops before its next step (see interruptible). */
  stop: AbortSignal | undefined;
  private readonly handlers = new Map<string, OperationHandler>();
  private options: OperationHandlerOptions = {};
  private embedded: EmbeddedDatabase | undefined;

  async startEmbedded(dir: string, output: RunnerOutput): Promise<string> {
    output.error(`no --database-url or DATABASE_URL: using the embedded PostgreSQL (PGlite) in ${dir}`);
    this.embedded = await startEmbeddedDatabase(dir);
    return this.embedded.url;
  }

  configure(options: OperationHandlerOptions): void {
    this.options = options;
  }

  /** One invocation; no deadline on the command line: a long prune runs to the end. */
  async invoke(operation: Operation, payload: Record<string, unknown>): Promise<OperationReport> {
    let handler = this.handlers.get(operation.id);
    if (!handler) {
      handler = createOperationHandler(operation, this.options);
      this.handlers.set(operation.id, handler);
    }
    return handler(payload, localLambdaContext(`perps-stats-db-local-${operation.id}`, NO_DEADLINE_MS, this.stop));
  }

  async close(): Promise<void> {
    for (const handler of this.handlers.values()) await handler.close();
    await this.embedded?.stop().catch(() => undefined);
  }
}

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
