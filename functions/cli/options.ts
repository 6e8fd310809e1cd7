import type { ParseArgsConfig } from 'node:util';
import { suggest } from './did-you-mean';

export type OutputFormat = 'table' | 'json';

/** What node:util parseArgs read from argv: flag -> value (a switch: true). */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The flags every command that reaches a database takes. */
export const GLOBAL_OPTIONS = {
  'database-url': { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

/** Confirms, without a prompt, a run that destroys data (commands with a confirmation only). */
export const YES = 'yes';

/** Flags `command` does not take (with the nearest one it does), and a bad --format: every problem, and the format. */
export function optionProblems(
  values: FlagValues,
  allowed: readonly string[],
  command: string,
): { problems: string[]; format: OutputFormat } {
  const problems = Object.keys(values)
    .filter((flag) => !allowed.includes(flag))
    .map((flag) => `--${flag} is not an option of ${command}${suggest(flag, allowed, (near) => `--${near}`)}; see ${command} --help`);
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') problems.push(`--format must be table or json, got "${format}"`);
  return { problems, format: format === 'json' ? 'json' : 'table' };
}

/** --database-url, when given. */
export function databaseUrlOf(values: FlagValues): string | undefined {
  return typeof values['database-url'] === 'string' ? values['database-url'] : undefined;
}
