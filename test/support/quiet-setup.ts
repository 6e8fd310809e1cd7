import { format } from 'node:util';
import { afterAll } from 'vitest';
import { maskAll } from './secret-guard';

// A vitest setupFiles module: fails a test file that printed a warning instead of capturing it
// (output.ts). A warning is a structured log line at WARN or above, a `warn:`/`error:` line, a
// Node process warning (Node prints those to stderr), or a console.warn or console.error. A
// passing run prints none: a test that expects one captures it and checks it; any other is a
// defect to fix where it comes from. What a capture diverts is not printed, so not counted.

const warnings: string[] = [];
const WARNING_LINE = /^\{.*"level":"(WARN|ERROR|CRITICAL)"|^(warn|warning|error):|^\(node:\d+\) (\[\w+\] )?\w*Warning:/i;

for (const stream of [process.stdout, process.stderr]) {
  const name = stream === process.stdout ? 'stdout' : 'stderr';
  const write = stream.write.bind(stream);
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    for (const line of text.split('\n')) if (WARNING_LINE.test(line)) warnings.push(`${name}: ${line}`);
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof stream.write;
}

for (const method of ['warn', 'error'] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    warnings.push(`console.${method}: ${format(...args)}`);
    original(...args);
  };
}

// Registered before the file's own hooks, so it runs after them (they may still log while closing).
afterAll(() => {
  if (warnings.length === 0) return;
  throw new Error(
    maskAll(
      [
        `this file printed ${warnings.length} warning(s); a passing run prints none. Capture the ones a test expects ` +
          '(capturingOutput / capturingWarnings in test/support/output.ts) and check them; fix the others where they come from:',
        ...warnings.map((warning) => `- ${warning.slice(0, 400)}`),
      ].join('\n'),
    ),
  );
});
