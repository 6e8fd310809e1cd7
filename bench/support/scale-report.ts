import prettyBytes from 'pretty-bytes';
import type { PartmanResult } from '../sections/partman';
import type { RecoveryResult } from '../sections/recovery';
import type { ScaleResult } from '../sections/scale';
import type { MeasuredOperation } from './scenario';
import { formatSummary, ms, summarize } from './timing';

const rss = (op: MeasuredOperation) => (op.peakRssMiB === null ? '-' : `${Math.round(op.peakRssMiB)} MiB`);
const transactions = (op: MeasuredOperation) => `${ms(op.longestTransactionMs)} (${ms(op.longestBlockingMs)})`;
/** The operation's result, or the first line of its failure (a PL/pgSQL error carries its whole context). */
const detail = (op: MeasuredOperation) => op.detail.split('\n')[0];
const writer = (op: MeasuredOperation) =>
  `${op.ingestion.inserts} | ${op.ingestion.failed} | ${ms(op.ingestion.p50)} | ${ms(op.ingestion.p99)} | ${ms(op.ingestion.max)}`;

/** The `--recovery` table: one line per backlog size. */
export function recoveryReport(results: RecoveryResult[]): string[] {
  const out = [
    '**Recovery of a 3-day DEFAULT backlog** (`partitions`, 7 days ahead, its bundle in a fresh process; a writer inserting single rows for today throughout)\n',
    '| backlog per table | recovery | rows/s | longest transaction (holding inserts back) | peak RSS | inserts | failed | p50 | p99 | worst insert | every row visible after | load |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ];
  for (const r of results) {
    out.push(
      `| ${r.rowsPerTable.toExponential(1)} | ${ms(r.ms)} | ${Math.round(r.rowsPerSecond / 1000)}k | ${transactions(r)} | ${rss(r)} | ${writer(r)} | ${r.allVisible ? 'yes' : 'NO'} | ${r.load.toFixed(2)} |`,
    );
  }
  out.push(
    '\n**The same rows by plain SQL** (after each recovery, on the same server, the same writer running: one `INSERT ... SELECT` per table into a bare table, then its indexes; no partitioning, no lock that holds inserts back)\n',
    '| backlog per table | plain SQL | rows/s | inserts | failed | p50 | p99 | worst insert | recovery / plain SQL: time | worst insert |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of results) {
    const plain = r.plainCopy;
    out.push(
      `| ${r.rowsPerTable.toExponential(1)} | ${ms(plain.ms)} | ${Math.round(plain.rows / plain.ms)}k | ${writer(plain)} | ${(r.ms / plain.ms).toFixed(2)}x | ${(r.ingestion.max / plain.ingestion.max).toFixed(2)}x |`,
    );
  }
  return out;
}

/** The `--scale` tables: the operations, then stats. */
export function scaleReport(result: ScaleResult): string[] {
  const { shape, stats } = result;
  const out = [
    `**Production scale**: ${shape.rows.toExponential(1)} rows over 30 days (${shape.backlogRows.toExponential(1)} of them in a 3-day DEFAULT backlog), 2,000 symbols over 7 exchanges, ${shape.oldDays} small older days; ${prettyBytes(result.databaseBytes)} on disk at the end. Each operation is its Lambda bundle in a fresh process while a writer inserts single rows into the four parents.\n`,
    '| operation | time | longest transaction (holding inserts back) | peak RSS | result | inserts | failed | p50 | p99 | worst insert | load |',
    '| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const op of result.operations) {
    out.push(`| ${op.name} | ${ms(op.ms)} | ${transactions(op)} | ${rss(op)} | ${detail(op)} | ${writer(op)} | ${op.load.toFixed(2)} |`);
  }
  const ratio = stats.dbTime.median / stats.dbTimeAt1e6.median;
  out.push(
    '\n**stats at scale** (DB time: the sum of its queries in-process, warm, 7 runs; process: the bundle in a fresh process, 5 runs)\n',
    '| rows | DB time: median (min..max) | ratio to 1e6 | process: median (min..max) | peak RSS | inserts | failed | p50 | p99 | worst insert |',
    '| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| 1e+6 | ${formatSummary(stats.dbTimeAt1e6)} | 1.00x | - | - | - | - | - | - | - |`,
    `| ${shape.rows.toExponential(0)} | ${formatSummary(stats.dbTime)} | ${ratio.toFixed(2)}x | ${formatSummary(stats.process)} | ${Math.round(stats.peakRssMiB)} MiB | ${stats.ingestion.inserts} | ${stats.ingestion.failed} | ${ms(stats.ingestion.p50)} | ${ms(stats.ingestion.p99)} | ${ms(stats.ingestion.max)} |`,
  );
  return out;
}

/** The writer's worst insert during `op`, or '-' when none of its inserts fell in the operation (a short one). */
const worstInsert = (op: MeasuredOperation) => (op.ingestion.inserts === 0 ? '-' : ms(op.ingestion.max));

/** The `--partman` tables: the comparison as the issue shows it, then every measured call. */
export function partmanReport(result: PartmanResult): string[] {
  const { server } = result;
  const settings = Object.entries(server.settings)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  const out = [
    `**Ours against pg_partman ${server.partman}** on one PostgreSQL ${server.postgres} (${settings}); each scenario on two fresh migrated databases, ours (the core operation in-process) on one, pg_partman's SQL calls on the other, while a writer inserts today's rows one at a time. Stall: the writer's worst insert; hold: the longest transaction holding inserts back.\n`,
    "| scenario | ours | pg_partman | writer's worst stall, ours vs partman | hold, ours vs partman | failed inserts, ours / partman |",
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { scenario, ours, partman } of result.comparisons) {
    out.push(
      `| ${scenario} | ${ms(ours.ms)} | ${ms(partman.ms)} | ${worstInsert(ours)} vs ${worstInsert(partman)} | ${ms(ours.longestBlockingMs)} vs ${ms(partman.longestBlockingMs)} | ${ours.ingestion.failed} / ${partman.ingestion.failed} |`,
    );
  }
  const { ours, partman } = result.createRounds;
  const median = (values: number[]) => summarize(values).median;
  const ratios = ours.map((o, i) => (o / (partman[i] ?? Number.NaN)).toFixed(2));
  out.push(
    `\n**Creating 30 days x 4 tables with no writer**, ${ours.length} rounds alternating which goes first: ours ${ours.map(ms).join(' / ')} (median ${ms(median(ours))}), pg_partman ${partman.map(ms).join(' / ')} (median ${ms(median(partman))}); ours / pg_partman per round ${ratios.join(' ')}, of the medians **${(median(ours) / median(partman)).toFixed(2)}x**.`,
  );
  const visible = (yes: boolean) => (yes ? 'yes' : 'NO');
  out.push(
    `\nEvery backlog row visible through its parent after the recovery, none left in a DEFAULT partition: ${result.backlogVisible
      .map((v) => `${v.shape}: ours ${visible(v.ours)}, pg_partman ${visible(v.partman)}`)
      .join('; ')}.\n`,
    '| call | time | longest transaction (holding inserts back) | result | inserts | failed | p50 | p99 | worst insert | load |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const op of result.comparisons.flatMap((c) => [c.ours, c.partman])) {
    out.push(`| ${op.name} | ${ms(op.ms)} | ${transactions(op)} | ${detail(op)} | ${writer(op)} | ${op.load.toFixed(2)} |`);
  }
  return out;
}
