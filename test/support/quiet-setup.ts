import { afterAll } from 'vitest';
import { watchPrinted } from './output';
import { maskAll } from './secret-guard';

// A vitest setupFiles module: fails a test file that printed a warning instead of capturing it
// (output.ts). A warning is a structured log line at WARN or above, a `warn:`/`error:` line, a
// Node process warning (Node prints those to stderr), or a console.warn or console.error. A
// passing run prints none: a test that expects one captures it and checks it; any other is a
// defect to fix where it comes from. What a capture diverts is not printed, so not counted.

const warnings: string[] = [];
const WARNING_LINE = /^\{.*"level":"(WARN|ERROR|CRITICAL)"|^(warn|warning|error):|^\(node:\d+\) (\[\w+\] )?\w*Warning:/i;

watchPrinted(
  (source, text) => {
    if (source.startsWith('console.')) warnings.push(`${source}: ${text}`);
    else for (const line of text.split('\n')) if (WARNING_LINE.test(line)) warnings.push(`${source}: ${line}`);
  },
  ['warn', 'error'],
);

// Registered before the file's own hooks, so it runs after them (they may still log while closing).
afterAll(() => {
  if (warnings.length === 0) return;
  throw new Error(
    maskAll(
      [
        `this file printed ${warnings.length} warning(s); a passing run prints none. Capture the ones a test expects ` +
          '(capturingOutput / capturingWarnings in test/support/output.ts) and check them; fix the others where they come from:',
        ...warnings.map((warning) => `- ${shown(warning).slice(0, 600)}`),
      ].join('\n'),
    ),
  );
});

/** A structured log line with what it says first (message, error), Powertools' context after: the cut keeps the cause. */
function shown(warning: string): string {
  const at = warning.indexOf('{');
  try {
    const { level, message, error, ...rest } = JSON.parse(warning.slice(at)) as Record<string, unknown>;
    return `${warning.slice(0, at)}${JSON.stringify({ level, message, error, ...rest })}`;
  } catch {
    return warning;
  }
}
