import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { localLambdaContext } from '../../functions/local/lambda-context';
import { bundleFile, type HandlerOperation } from '../../infra/bundling';
import { recordOutput } from './secret-guard';

/** A handler as the bundle exports it. */
export interface BundledHandler {
  (event: unknown, context: Context): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

let coldStarts = 0;

/**
 * Imports the built bundle (dist/<op>/index.mjs, built by the global setup) as a fresh module:
 * a cold start that reads process.env as it is now. vitest leaves dist/ to Node's own loader
 * (server.deps.external in vitest.config.ts), so the file runs untransformed, as Lambda runs it.
 */
export async function loadHandler(operation: HandlerOperation, env: Record<string, string | undefined> = {}): Promise<BundledHandler> {
  coldStarts += 1;
  const saved = setEnv(env);
  try {
    const module = (await import(`${pathToFileURL(bundleFile(operation)).href}?cold=${coldStarts}`)) as { handler: BundledHandler };
    return module.handler;
  } finally {
    setEnv(saved);
  }
}

/** Sets (undefined: deletes) environment variables; returns their previous values, to restore with setEnv. */
export function setEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const previous = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return previous;
}

/** Everything an invocation wrote to stdout and stderr, every invocation of the file kept for the secret scan. */
export interface Invocation {
  result?: Record<string, unknown>;
  error?: Error & { report?: unknown; retryable?: boolean };
  stdout: string;
  stderr: string;
  /** The EMF documents on stdout. */
  emf: EmfDocument[];
  /** The JSON log lines (stdout and stderr) that are not EMF. */
  logs: Record<string, unknown>[];
}

export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [key: string]: unknown;
}

export const capturedOutput: string[] = [];

/** Invokes with a Lambda-like context, capturing the process's stdout and stderr while it runs. */
export async function invoke(handler: BundledHandler, event: unknown, functionName = 'perps-stats-db-test'): Promise<Invocation> {
  const out: string[] = [];
  const err: string[] = [];
  const originalOut = process.stdout.write.bind(process.stdout);
  const originalErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  const invocation: Partial<Invocation> = {};
  try {
    invocation.result = await handler(event, localLambdaContext(functionName));
  } catch (error) {
    invocation.error = error as Invocation['error'];
  } finally {
    process.stdout.write = originalOut;
    process.stderr.write = originalErr;
  }
  const stdout = out.join('');
  const stderr = err.join('');
  const errorText = invocation.error ? `${invocation.error.message} ${JSON.stringify(invocation.error.report ?? '')}` : '';
  capturedOutput.push(stdout, stderr, errorText);
  // The suite-wide password guard scans what the handler wrote, threw and returned.
  recordOutput(`${functionName} stdout`, stdout);
  recordOutput(`${functionName} stderr`, stderr);
  recordOutput(`${functionName} error`, errorText && `${errorText} ${invocation.error?.stack ?? ''}`);
  recordOutput(`${functionName} report`, invocation.result && JSON.stringify(invocation.result));
  const lines = `${stdout}\n${stderr}`
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    ...invocation,
    stdout,
    stderr,
    emf: lines.filter((line): line is EmfDocument => '_aws' in line),
    logs: lines.filter((line) => !('_aws' in line)),
  };
}

/** The metrics of EMF documents as `Name{dim=value,...}` -> { value, unit }. */
export function metricsOf(documents: EmfDocument[]): Map<string, { value: unknown; unit: string; namespace: string }> {
  const metrics = new Map<string, { value: unknown; unit: string; namespace: string }>();
  for (const document of documents) {
    for (const directive of document._aws.CloudWatchMetrics) {
      const dimensions = (directive.Dimensions[0] ?? []).map((name) => `${name}=${String(document[name])}`).join(',');
      for (const metric of directive.Metrics) {
        metrics.set(`${metric.Name}{${dimensions}}`, { value: document[metric.Name], unit: metric.Unit, namespace: directive.Namespace });
      }
    }
  }
  return metrics;
}
