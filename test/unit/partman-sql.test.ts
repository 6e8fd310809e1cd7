import { describe, expect, it } from 'vitest';
import { adoptTableSql, partitionDataSql, partmanVersionProblem } from '../../bench/support/partman-sql';

describe('the pg_partman calls of bench --partman', () => {
  it('takes pg_partman 4.x only, and says why not otherwise', () => {
    expect(partmanVersionProblem('4.7.2')).toBeUndefined();
    expect(partmanVersionProblem(null)).toMatch(/has no pg_partman extension available .* apt-get install postgresql-15-partman/);
    expect(partmanVersionProblem('5.2.4')).toMatch(
      /offers pg_partman 5\.2\.4; this section calls the 4\.x API .* use a server with pg_partman 4\.x/,
    );
  });

  it('hands a table over in one transaction: our empty DEFAULT dropped, then create_parent from 00:00 UTC', () => {
    expect(adoptTableSql('trades', '2026-11-30', 29)).toEqual([
      'BEGIN',
      'DROP TABLE "trades_default"',
      "SELECT partman.create_parent(p_parent_table => 'public.trades', p_control => 'ts', p_type => 'native', p_interval => 'daily', p_premake => 29, p_start_partition => '2026-11-30 00:00:00+00')",
      'COMMIT',
    ]);
  });

  it('moves the DEFAULT backlog without pg_partman pausing between loops', () => {
    expect(partitionDataSql('tickers', 200)).toBe(
      "CALL partman.partition_data_proc(p_parent_table => 'public.tickers', p_batch => 200, p_wait => 0, p_quiet => true)",
    );
  });
});
