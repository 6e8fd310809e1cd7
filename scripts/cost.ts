import { parseArgs } from 'node:util';
import { InputError } from '../functions/shared/errors';
import { SEEDED_EXCHANGES } from '../functions/shared/exchanges';
import { describeConfigError } from '../infra/config';
import { billFor, costsSection, renderBill } from '../infra/cost/report';

const USAGE = `Usage: npm run -s cost -- [-c key=value ...] [--exchanges N] [--docs]

The monthly price of the stack \`npx cdk synth\` would write with this context (the same keys as
cdk deploy -c; see docs/deploy.md), line by line, from infra/cost/prices.ts.
  -c key=value     a context key, as for cdk (repeat for more)
  --exchanges N    exchanges writing (1-1000, default ${SEEDED_EXCHANGES.length}): the per-exchange metrics
  --docs           print the "Costs" block of docs/deploy.md (default and Aurora bills, each key's change)`;

/** A bad flag of this script (not of the context): its message, then the usage. */
class UsageError extends Error {}

function main(): void {
  const { values } = parseCommandLine();
  const context = Object.fromEntries((values.c ?? []).map(contextPair));
  const exchanges = exchangeNames(values.exchanges ?? String(SEEDED_EXCHANGES.length));
  try {
    console.log(values.docs ? costsSection() : renderBill(context, billFor(context, exchanges), exchanges.length));
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    console.error(describeConfigError(error));
    process.exit(2);
  }
}

function parseCommandLine() {
  try {
    return parseArgs({
      options: { c: { type: 'string', short: 'c', multiple: true }, exchanges: { type: 'string' }, docs: { type: 'boolean' } },
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function contextPair(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at < 1) throw new UsageError(`-c ${text}: give key=value, as in -c database=aurora`);
  return [text.slice(0, at), text.slice(at + 1)];
}

/** The seeded exchanges first, then made-up names: only their number matters to the price. */
function exchangeNames(text: string): string[] {
  const count = /^\d{1,4}$/.test(text) ? Number(text) : Number.NaN;
  if (!(count >= 1 && count <= 1000)) throw new UsageError(`--exchanges ${text}: must be a whole number from 1 to 1000`);
  return Array.from({ length: count }, (_, i) => SEEDED_EXCHANGES[i] ?? `exchange${i + 1}`);
}

try {
  main();
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`error: ${error.message}\n\n${USAGE}`);
  process.exit(2);
}
