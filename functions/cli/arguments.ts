import { parseArgs } from 'node:util';
import { InputError } from '../shared/errors';
import { flagsOfCommandIn, RUNNER_OPTIONS } from './commands';
import { suggest } from './did-you-mean';
import type { FlagValues } from './options';

/** node:util parseArgs over every runner flag, its messages said in the runner's words. */
export function readArguments(argv: string[]): { values: FlagValues; positionals: string[] } {
  try {
    return parseArgs({ args: attachFlagValues(argv), options: RUNNER_OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw inRunnerWords((error as Error).message, argv);
  }
}

/** parseArgs' message, said as the runner says it: the flag, what is wrong, what to do. */
function inRunnerWords(message: string, argv: string[]): InputError {
  const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
  if (unknown) {
    const near = unknown.startsWith('--') ? suggest(unknown.slice(2), flagsOfCommandIn(argv), (flag) => `--${flag}`) : '';
    return new InputError(`unknown flag ${unknown}${near}; see --help`);
  }
  // Node says "Option '-h, --help' does not take an argument"; say it in the flag's own name.
  const switchFlag = /Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(message)?.[1];
  if (switchFlag) return new InputError(`${switchFlag} takes no value: give ${switchFlag} alone; see --help`);
  return new InputError(`${message.split('\n')[0]}; see --help`);
}

/**
 * `--days -3` is a value, not a flag: attach it (`--days=-3`) so the schema can say what is
 * wrong with it; a value-taking flag with nothing after it gets its own message, and so does a
 * flag given twice (which value was meant is a guess we do not make).
 */
function attachFlagValues(argv: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    const name = token.startsWith('--') ? token.split('=')[0] : undefined;
    if (name && name !== '--') {
      if (seen.has(name)) throw new InputError(`${name} is given more than once; give it once`);
      seen.add(name);
    }
    const flag = token.startsWith('--') && !token.includes('=') ? token.slice(2) : undefined;
    if (!flag || RUNNER_OPTIONS[flag]?.type !== 'string') {
      out.push(token);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith('-') && !/^-[\d.]/.test(next))) {
      throw new InputError(`${token} needs a value; see --help`);
    }
    out.push(`${token}=${next}`);
    i++;
  }
  return out;
}
