import { OPERATIONS } from '../../operations/registry';
import { stepsCommand } from './operation';

/** partitions' default number of days, as its payload schema fills it in. */
const DAYS_AHEAD_DEFAULT = OPERATIONS.partitions.payload.parse({}).daysAhead;

/** `init` is no operation of its own: the migrate handler, then the partitions handler. */
export const INIT_COMMAND = stepsCommand({
  name: 'init',
  aliases: [],
  steps: [
    { operation: OPERATIONS.migrate, flags: {} },
    // partitions' spelling is accepted here too, so either works with both commands.
    { operation: OPERATIONS.partitions, flags: OPERATIONS.partitions.cli.flags ?? {} },
  ],
  usage: {
    synopsis: 'init [--create-partitions-days N]',
    summary: `migrate, then create partitions (N days, default ${DAYS_AHEAD_DEFAULT})`,
    flags: [['--create-partitions-days N', `days of partitions from today (UTC), default ${DAYS_AHEAD_DEFAULT}; --days N is the same`]],
    examples: ['', '--create-partitions-days 14', '--database-url postgres://perps_admin@db.example.com/perps'],
  },
});
