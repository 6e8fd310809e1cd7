import { resolve as resolvePath } from 'node:path';
import type { Operation } from '../operations/registry';
import { InputError } from '../shared/errors';
import type { Flag } from '../shared/operation-definition';
import { parseOrThrow, readDecimal, readSize } from '../shared/parse';
import { refuseNeedlessYes } from './confirmation';
import type { Invocation, Step } from './invocation';
import { type FlagValues, YES } from './options';
import { scheduledDefaults } from './scheduled-defaults';

/** One operation a command runs, with the flags that fill its payload. */
export interface CommandStep {
  operation: Operation;
  flags: Readonly<Record<string, Flag>>;
}

/** Each step's payload from the flags, checked by its operation's schema and named in flag words. */
export function buildInvocation(
  command: { name: string; steps: readonly CommandStep[] },
  values: FlagValues,
  env: Record<string, string | undefined>,
  cwd: string,
): Invocation {
  const environment: Record<string, string> = {};
  const steps = command.steps.map((step) => {
    Object.assign(environment, flagVariables(step.flags, values, cwd));
    return stepOf(step, values, env);
  });
  const yes = values[YES] === true;
  refuseNeedlessYes(steps, yes);
  return { command: command.name, steps, yes, ...(Object.keys(environment).length > 0 ? { environment } : {}) };
}

/** The handler environment variables that flags set (`--to DIR`: ARCHIVE_DIR, made absolute). */
function flagVariables(flags: CommandStep['flags'], values: FlagValues, cwd: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(flags).flatMap(([flag, { variable }]) => {
      const value = values[flag];
      return variable && typeof value === 'string' ? [[variable, resolvePath(cwd, value)]] : [];
    }),
  );
}

function stepOf({ operation, flags: allFlags }: CommandStep, values: FlagValues, env: Record<string, string | undefined>): Step {
  const flags = Object.entries(allFlags).filter(([, flag]) => flag.variable === undefined);
  // Two spellings of one field (--days, --create-partitions-days): the one given names it in messages.
  const given = flags.filter(([flag]) => values[flag] !== undefined);
  const flagOf = new Map([...flags.toReversed(), ...given].map(([flag, { field }]) => [field, `--${flag}`] as const));
  for (const [flag, { field }] of given) {
    const other = given.find(([name, spec]) => spec.field === field && name !== flag);
    if (other) throw new InputError(`--${flag} and --${other[0]} are two names of one setting: give one of them`);
  }
  const payload = Object.fromEntries(
    flags.flatMap(([flag, { field, kind }]) => {
      const value = flagValue(values[flag], kind, flag);
      return value === undefined ? [] : [[field, value]];
    }),
  );
  const withDefaults = payload.dryRun === true ? { ...scheduledDefaults(operation, payload, env), ...payload } : payload;
  return { operation, payload: parseOrThrow(operation.payload, withDefaults, { rename: (key) => flagOf.get(key) ?? key }) };
}

/**
 * A switch is true when given; a number is plain decimal digits (anything else is NaN, which the
 * schema rejects with its message); text is passed on as given, for the schema to judge.
 */
function flagValue(raw: FlagValues[string], kind: Flag['kind'], flag: string): number | boolean | string | undefined {
  if (kind === 'switch') return raw === true ? true : undefined;
  if (kind === 'text') return typeof raw === 'string' ? raw : undefined;
  if (kind === 'size') return typeof raw === 'string' ? sizeValue(raw, flag) : undefined;
  return typeof raw === 'string' ? readDecimal(raw) : undefined;
}

/** A size flag's bytes; a value that is not a size is refused here, where the units can be named. */
function sizeValue(raw: string, flag: string): number {
  const bytes = readSize(raw);
  if (Number.isNaN(bytes))
    throw new InputError(`--${flag}: must be a size such as 500GiB, 2TiB or a number of bytes (units B, KiB, MiB, GiB, TiB)`);
  return bytes;
}
