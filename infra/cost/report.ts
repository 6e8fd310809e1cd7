import { SEEDED_EXCHANGES } from '../../functions/shared/exchanges';
import { type Bill, billOf } from './bill';
import { PRICES_AS_OF, PRICES_REGION } from './prices';
import { stackUsage } from './stack-usage';
import { synthesizeTemplate } from './synth';

/** Context as `-c key=value` gives it. */
export type Context = Record<string, string>;

/** The bill of the stack this context synthesizes, with `exchanges` exchanges writing. */
export function billFor(context: Context, exchanges: readonly string[] = SEEDED_EXCHANGES): Bill {
  return billOf(stackUsage(synthesizeTemplate(context)), exchanges);
}

const money = (value: number) => value.toFixed(2);
const describe = (context: Context) =>
  Object.keys(context).length === 0
    ? 'the default stack'
    : Object.entries(context)
        .map(([key, value]) => `\`${key}=${value}\``)
        .join(' ');

/** One bill as a Markdown table: every line, then CloudWatch's part, the overhead and the database. */
export function renderBill(context: Context, bill: Bill, exchanges: number): string {
  const row = (item: string, quantity: string, monthly: string) => `| ${item} | ${quantity} | ${monthly} |`;
  const lines = (group: 'cloudwatch' | 'other' | 'database') =>
    bill.lines.filter((line) => line.group === group).map((line) => row(line.item, line.quantity, money(line.monthly)));
  return [
    `${describe(context)}, ${exchanges} exchanges writing: ${PRICES_REGION} list prices of ${PRICES_AS_OF}, $ a month`,
    '',
    '| item | quantity | $/month |',
    '| --- | --- | ---: |',
    ...lines('cloudwatch'),
    row('**CloudWatch**', '', `**${money(bill.cloudwatch)}**`),
    ...lines('other'),
    row('**overhead besides the database**', '', `**${money(bill.overhead)}**`),
    ...lines('database'),
    row('**database: instance and storage**', '', `**${money(bill.database)}**`),
    ...bill.unpriced.map((problem) => `\nNot priced: ${problem}.`),
  ].join('\n');
}

/**
 * What each context key that moves the bill changes, against the default stack: the key, then
 * the overhead, CloudWatch's part, the database, and the total's change.
 */
export const PRICED_KEYS: readonly Context[] = [
  { database: 'aurora' },
  { database: 'aurora', auroraMinCapacity: '0' },
  { multiAz: 'true' },
  { instanceType: 't4g.small' },
  { secretsManagerEndpointZones: '2' },
  { dataAgeAlarmSeconds: 'off' },
  { storageRunwayAlarmDays: 'off' },
  { archive: 'false' },
];

export function renderKeyChanges(base: Bill, variants: readonly [Context, Bill][]): string {
  const total = (bill: Bill) => bill.overhead + bill.database;
  const signed = (value: number) => `${value >= 0 ? '+' : '−'}${money(Math.abs(value))}`;
  return [
    '| context | overhead | CloudWatch | database | total change |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| (default) | ${money(base.overhead)} | ${money(base.cloudwatch)} | ${money(base.database)} | |`,
    ...variants.map(
      ([context, bill]) =>
        `| ${describe(context)} | ${money(bill.overhead)} | ${money(bill.cloudwatch)} | ${money(bill.database)} | ${signed(total(bill) - total(base))} |`,
    ),
  ].join('\n');
}

/** What docs/deploy.md "Costs" shows between its markers: the default and Aurora bills, then each key's change. */
export function costsSection(): string {
  const base = billFor({});
  const variants = PRICED_KEYS.map((context): [Context, Bill] => [context, billFor(context)]);
  const aurora = variants[0]?.[1] ?? billFor({ database: 'aurora' });
  return [
    renderBill({}, base, SEEDED_EXCHANGES.length),
    '',
    renderBill({ database: 'aurora' }, aurora, SEEDED_EXCHANGES.length),
    '',
    renderKeyChanges(base, variants),
  ].join('\n');
}
