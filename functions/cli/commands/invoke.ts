import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { OPERATION_IDS, OPERATIONS, type Operation, type OperationId } from '../../operations/registry';
import { InputError } from '../../shared/errors';
import { suggest } from '../did-you-mean';
import { type Invocation, runInvocation } from '../invocation';
import { databaseUrlOf, GLOBAL_OPTIONS, optionProblems } from '../options';
import type { RunnerCommand } from '../runner';

const OPTIONS = { payload: { type: 'string' }, event: { type: 'string' } } as const;
const SYNOPSIS = 'invoke <function> [--payload JSON | --event FILE]';
const SUMMARY = `run one Lambda handler (${OPERATION_IDS.join(', ')}) with a JSON payload, as Lambda would`;

const HELP = `Usage: npm run local -- ${SYNOPSIS} [--database-url URL] [--format table|json]

${SUMMARY}: the same handler, payload checks and scheduled defaults from the environment
(PRUNE_OLDER_THAN_DAYS, PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS, PARTITIONS_DAYS_AHEAD) as the
deployed function; no payload is {}. A truncate needs "confirm": "<database name>", as in Lambda.

Flags:
  --payload JSON                    the payload, as text
  --event FILE                      the payload, from a JSON file

Examples:
  PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS=180 npm run local -- invoke prune --payload '{"dryRun": true}'
  npm run local -- invoke partitions --payload '{"daysAhead": 14, "whenLocked": "skip"}'
  npm run local -- invoke stats --event events/stats.json --format json

Exit codes: as every command (npm run local -- help stats).`;

/**
 * `invoke <function> [--payload JSON | --event FILE]`: one handler with a JSON payload, as
 * `sam local invoke -e` or `aws lambda invoke` would give it. The payload goes to the handler as
 * it is: the handler checks it, fills in the scheduled defaults (PRUNE_*, PARTITIONS_DAYS_AHEAD)
 * from the environment as the deployed function does, and a truncate needs its own `confirm`.
 */
export const INVOKE_COMMAND: RunnerCommand = {
  name: 'invoke',
  aliases: [],
  options: OPTIONS,
  usage: { synopsis: SYNOPSIS, summary: SUMMARY },
  help: () => HELP,
  parse({ positionals, values, cwd }) {
    const { problems, format } = optionProblems(values, [...Object.keys(GLOBAL_OPTIONS), ...Object.keys(OPTIONS)], 'invoke');
    if (problems.length > 0) throw new InputError(problems);
    const { operationId, payload } = parseInvoke(positionals, values, cwd);
    const invocation: Invocation = {
      command: operationId,
      steps: [{ operation: OPERATIONS[operationId] as Operation, payload: payload as Record<string, unknown> }],
      yes: false,
      raw: true,
    };
    const databaseUrl = databaseUrlOf(values);
    return { kind: 'run', invocation, format, databaseUrl, run: (runner) => runInvocation(invocation, databaseUrl, runner) };
  },
};

/** The operation and raw payload an `invoke` command line names; every problem an InputError. */
function parseInvoke(
  args: string[],
  values: { payload?: unknown; event?: unknown },
  cwd: string,
): { operationId: OperationId; payload: unknown } {
  const [name, extra] = args;
  if (name === undefined) throw new InputError(`invoke needs a function: one of ${OPERATION_IDS.join(', ')}; see invoke --help`);
  if (!(name in OPERATIONS)) {
    throw new InputError(`invoke: unknown function "${name}": use one of ${OPERATION_IDS.join(', ')}${suggest(name, OPERATION_IDS)}`);
  }
  if (extra !== undefined) throw new InputError(`unexpected argument "${extra}" after invoke ${name}; see invoke --help`);
  if (values.payload !== undefined && values.event !== undefined) throw new InputError('give --payload or --event, not both');
  const text = typeof values.event === 'string' ? readEvent(values.event, cwd) : values.payload;
  const source = typeof values.event === 'string' ? `--event ${values.event}` : '--payload';
  return { operationId: name as OperationId, payload: typeof text === 'string' ? parseJson(text, source) : {} };
}

function readEvent(file: string, cwd: string): string {
  try {
    return readFileSync(resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new InputError(
      `--event ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): give a JSON file`,
    );
  }
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // Node's own wording of the parse error differs between versions: the position is what helps.
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new InputError(
      `${source} is not JSON${at === undefined ? '' : ` (at character ${Number(at) + 1})`}: give a JSON object, as in {"dryRun": true}`,
      {
        cause: error,
      },
    );
  }
}
