import * as z from 'zod';
import { InputError } from './errors';

/**
 * The one vocabulary for input: every entry point (environment, command-line flags, payloads,
 * secrets, CDK context) reads numbers, ports and lists with these schemas and reports problems
 * through parseOrThrow, so `0x10` means the same thing (nothing) everywhere.
 */

/** A number allowed to be in [min, max] in steps of `step`, and what to say when it is not. */
export interface NumberRule {
  min: number;
  max: number;
  /** The one message for every way of being wrong: not a number, out of range, off step. */
  error: string;
  /** 1 (the default): whole numbers only; 0.5: halves too. */
  step?: number;
  /** Message for a number in range that is off step, when it deserves its own (default: `error`). */
  stepError?: string;
}

/** Plain decimal: an optional sign, digits, an optional fraction (`7`, `07`, `+7`, `7.0`, `-3`, `.5`). */
const DECIMAL_TEXT = /^[+-]?(\d+(\.\d+)?|\.\d+)$/;

/**
 * Text to a number, in plain decimal only: `0x10`, `1e3`, `Infinity`, `30s` or nothing at all
 * become NaN, never read the way Number() would (16, 1000, ...); NaN then fails the range check
 * with the rule's one message. Whether a fraction is allowed is the rule's `step`.
 */
/** Bytes from "500GiB", "1.5 TiB" or plain digits (binary units, as pg_size_pretty prints them); NaN otherwise. */
export function readSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)?\s*$/i.exec(text);
  if (!match) return Number.NaN;
  const power = ['b', 'kib', 'mib', 'gib', 'tib'].indexOf((match[2] ?? 'b').toLowerCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
}

export function readDecimal(text: string): number {
  const trimmed = text.trim();
  return DECIMAL_TEXT.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/** A JSON number held to a rule (payloads): a string, even "7", is not a number here. */
export function numberValue({ min, max, error, step = 1, stepError = error }: NumberRule) {
  // abort: one value breaking two checks (1e23 is off step and too big) gets one line, not two.
  return z
    .number({ error })
    .min(min, { error, abort: true })
    .max(max, { error, abort: true })
    .refine((value) => Number.isInteger(value / step), { error: stepError });
}

/** A number held to a rule, given as a JSON number or as plain decimal text (environment, flags, `-c`, secrets). */
export function numberOrText(rule: NumberRule) {
  return z.preprocess((value) => (typeof value === 'string' ? readDecimal(value) : value), numberValue(rule));
}

const PORT_RULE = { min: 1, max: 65_535, error: 'must be a port number from 1 to 65535' } as const satisfies NumberRule;

/** A TCP port, as a number or as text. */
export const portSchema = () => numberOrText(PORT_RULE);

/** A list, given as comma-separated text (`-c key=a,b`) or as a JSON array; blanks around items are dropped. */
export function listSchema(item: z.ZodType<string>, messages: { error: string; empty: string }) {
  return z.preprocess(
    (value) =>
      typeof value === 'string'
        ? value
            .split(',')
            .map((part) => part.trim())
            .filter(Boolean)
        : value,
    z.array(item, { error: messages.error }).min(1, { error: messages.empty }),
  );
}

/**
 * Fields of shared messages are written `{fieldName}`; each entry point fills them in its own
 * words (`--older-than` on the command line, `olderThanDays` in a payload).
 */
export function fillNames(message: string, rename: (key: string) => string = (key) => key): string {
  return message.replace(/\{(\w+)\}/g, (_, key: string) => rename(key));
}

/** Zod issues as "field: problem" lines; `rename` maps keys to the caller's words (flags). */
function describeIssues(error: z.ZodError, rename: (key: string) => string = (key) => key): string[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown ${issue.keys.length > 1 ? 'keys' : 'key'} ${issue.keys.map(rename).join(', ')}: remove ${issue.keys.length > 1 ? 'them' : 'it'}`;
    }
    const key = issue.path.map(String).join('.');
    const message = fillNames(issue.message, rename);
    return key ? `${rename(key)}: ${message}` : message;
  });
}

export interface ParseOptions<T> {
  /** Keys in the caller's words (`daysAhead` -> `--days`). */
  rename?: (key: string) => string;
  /**
   * Checks across keys, run even when some value is bad (a schema refinement would be skipped
   * then), so that every problem is reported at once. `parsed` is undefined when a value is bad.
   */
  also?: (parsed: T | undefined) => string[];
  /** The error for the problems (default: an InputError listing them). */
  error?: (problems: string[]) => InputError;
}

/** Parses `input` with `schema`, or throws one InputError naming every problem. */
export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, options: ParseOptions<T> = {}): T {
  const { data, problems } = parseAll(schema, input, options.rename);
  problems.push(...(options.also?.(data) ?? []));
  if (data !== undefined && problems.length === 0) return data;
  throw options.error?.(problems) ?? new InputError(problems);
}

/**
 * The half of parseOrThrow that does not throw: the data (undefined when a value is bad) and
 * every problem, for a caller that adds checks of its own before it throws them all together.
 */
export function parseAll<T>(
  schema: z.ZodType<T>,
  input: unknown,
  rename?: (key: string) => string,
): { data: T | undefined; problems: string[] } {
  const parsed = schema.safeParse(input);
  return parsed.success ? { data: parsed.data, problems: [] } : { data: undefined, problems: describeIssues(parsed.error, rename) };
}
