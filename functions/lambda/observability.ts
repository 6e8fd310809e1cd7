import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { OperationId } from '../operations/registry';
import type { Logger } from '../shared/log';
import { SERVICE_NAME } from '../shared/metric-names';

/** Powertools Logger: JSON lines with the operation, and (through injectLambdaContext) the request id and function name. */
function createLambdaLogger(operation: OperationId): PowertoolsLogger {
  return new PowertoolsLogger({ serviceName: SERVICE_NAME, persistentKeys: { operation } });
}

/** The core's Logger interface over Powertools; fields become top-level JSON keys. */
function asCoreLogger(logger: PowertoolsLogger): Logger {
  const write = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) =>
    fields ? logger[level](message, fields) : logger[level](message);
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * The logger a handler writes to: the caller's (the local runner logs to stderr), or Powertools,
 * returned too so the handler can inject the Lambda context into it.
 */
export function handlerLogger(operation: OperationId, given: Logger | undefined): { log: Logger; powertools?: PowertoolsLogger } {
  if (given) return { log: given };
  const powertools = createLambdaLogger(operation);
  return { log: asCoreLogger(powertools), powertools };
}

/** Powertools Metrics: Embedded Metric Format on stdout, which CloudWatch turns into metrics inside Lambda. */
export function createLambdaMetrics(namespace: string): Metrics {
  return new Metrics({ namespace, serviceName: SERVICE_NAME });
}
