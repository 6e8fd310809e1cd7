import type { OperationHandler, OperationHandlerOptions } from '../lambda/operation-handler';
import type { Operation, OperationReport } from '../operations/registry';
import type { EmbeddedDatabase } from './embedded';
import { localLambdaContext, NO_DEADLINE_MS } from './lambda-context';
import type { RunnerOutput } from './output';
import type { RunnerSettings } from './settings';

/**
 * The handlers this run invokes, one per operation (its pool serves every invocation), and the
 * embedded database. The handlers' middleware (middy, Powertools, the AWS SDK's Secrets Manager)
 * and PGlite are imported when a run first needs them, not when the runner starts: `--version`,
 * `help` and a refused command line load none of them (see the prebuilt runner, scripts/local.mjs).
 */
export class HandlerSet {
  /** Aborted by Ctrl-C or SIGTERM: the running operation stops before its next step (see interruptible). */
  stop: AbortSignal | undefined;
  private readonly handlers = new Map<string, OperationHandler>();
  private options: OperationHandlerOptions = {};
  private embedded: EmbeddedDatabase | undefined;

  async startEmbedded(dir: string, output: RunnerOutput): Promise<string> {
    output.error(`no --database-url or DATABASE_URL: using the embedded PostgreSQL (PGlite) in ${dir}`);
    const { startEmbeddedDatabase } = await import('./embedded');
    this.embedded = await startEmbeddedDatabase(dir);
    return this.embedded.url;
  }

  /** The log, metrics and environment every handler of this run gets. */
  async configure(settings: RunnerSettings, url: string, output: RunnerOutput): Promise<void> {
    const { handlerOptions } = await import('./handler-options');
    this.options = handlerOptions(settings, url, output);
  }

  /** One invocation; no deadline on the command line: a long prune runs to the end. */
  async invoke(operation: Operation, payload: Record<string, unknown>): Promise<OperationReport> {
    let handler = this.handlers.get(operation.id);
    if (!handler) {
      const { createOperationHandler } = await import('../lambda/operation-handler');
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
