import { InputError } from '../shared/errors';
import { RUNNER_OPTIONS } from './commands';

/**
 * `npm run local stats --format json` (no `--`): npm takes every flag before `--` as one of its
 * own options, so the runner sees `stats json` and none of the flags. Worse, `npm run local prune
 * --dry-run` would reach the runner as a bare `prune`. npm says which flags it took in
 * npm_config_<flag> variables; this refuses such a run before anything is done, naming them.
 */
export function assertNoFlagsTakenByNpm(argv: readonly string[], env: Record<string, string | undefined>): void {
  if (env.npm_lifecycle_event !== 'local') return;
  const taken = Object.keys(RUNNER_OPTIONS)
    .sort()
    .filter((flag) => {
      const value = env[`npm_config_${flag.replaceAll('-', '_')}`];
      // npm sets npm_config_yes to '' on every run: only a value means the flag was given.
      return value !== undefined && value !== '' && value !== 'false' && !argv.includes(`--${flag}`);
    });
  if (taken.length === 0) return;
  throw new InputError(
    `npm took ${taken.map((flag) => `--${flag}`).join(', ')} as its own option${taken.length > 1 ? 's' : ''}, because the flags came before \`--\`: nothing was run; put \`--\` between \`npm run local\` and the command (${suggestedCommand(argv)})`,
  );
}

/** A parse error under `npm run local`, with the `--` hint when no flag reached the runner at all. */
export function withNpmHint(error: unknown, argv: readonly string[], env: Record<string, string | undefined>): unknown {
  const noFlagReached = !argv.some((word) => word.startsWith('-'));
  if (!(error instanceof InputError) || env.npm_lifecycle_event !== 'local' || !noFlagReached || argv.length < 2) return error;
  return new InputError(
    `${error.message}; if you gave flags, npm kept them for itself: put \`--\` between \`npm run local\` and the command (${suggestedCommand(argv)})`,
  );
}

function suggestedCommand(argv: readonly string[]): string {
  return `\`npm run local -- ${argv[0] ?? '<command>'} --flag value\``;
}
