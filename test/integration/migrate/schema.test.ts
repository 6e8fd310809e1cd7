import { beforeAll, describe, expect, it } from 'vitest';
import { readMigrationFiles } from '../../../functions/operations/migrate/migration-files';
import { ALL_TABLES, TIME_SERIES_TABLES } from '../../../functions/shared/tables';
import { connect, createTestDatabase, initDatabase, testContext } from '../../support/database';

const NOW = new Date('2026-03-10T12:00:00Z');
let url: string;

async function catalogSnapshot(client: Awaited<ReturnType<typeof connect>>) {
  const { rows } = await client.query(
    `SELECT c.relname, c.relkind, c.relispartition, pg_get_expr(c.relpartbound, c.oid) AS bound,
            (SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod) || ':' || attnotnull, ',' ORDER BY attnum)
               FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped) AS columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' ORDER BY c.relname`,
  );
  const ledger = await client.query('SELECT name, checksum, applied_at FROM perps_schema_migrations ORDER BY name');
  const exchanges = await client.query('SELECT id, name, created_at FROM exchanges ORDER BY id');
  return { relations: rows, ledger: ledger.rows, exchanges: exchanges.rows };
}

describe('schema after init', () => {
  beforeAll(async () => {
    url = await createTestDatabase();
    await initDatabase(testContext(url, { now: NOW }), { daysAhead: 3 });
  });

  it('has the seven tables with the columns and types of the design', async () => {
    const client = await connect(url);
    const { rows } = await client.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
      `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = ANY($1) ORDER BY table_name, ordinal_position`,
      [ALL_TABLES],
    );
    const columns = (table: string) =>
      rows.filter((r) => r.table_name === table).map((r) => `${r.column_name} ${r.data_type}${r.is_nullable === 'NO' ? ' not null' : ''}`);
    expect(columns('exchanges')).toEqual(['id integer not null', 'name text not null', 'created_at timestamp with time zone']);
    expect(columns('markets')).toEqual([
      'id bigint not null',
      'exchange_id integer not null',
      'symbol text not null',
      'base_currency text',
      'quote_currency text',
      'contract_type text',
      'tick_size numeric',
      'lot_size numeric',
      'metadata jsonb',
      'created_at timestamp with time zone',
    ]);
    const common = [
      'id bigint not null',
      'exchange_id integer not null',
      'market_id bigint',
      'symbol text not null',
      'ts timestamp with time zone not null',
      'received_at timestamp with time zone',
    ];
    expect(columns('tickers')).toEqual([
      ...common,
      ...[
        'last_price',
        'mark_price',
        'index_price',
        'best_bid',
        'best_ask',
        'volume_24h',
        'turnover_24h',
        'price_change_24h',
        'high_24h',
        'low_24h',
      ].map((c) => `${c} numeric`),
    ]);
    expect(columns('orderbooks')).toEqual([
      ...common,
      'bids_notional numeric',
      'asks_notional numeric',
      'raw_book jsonb',
      'spread_bps numeric',
    ]);
    expect(columns('trades')).toEqual([
      ...common,
      'trade_id text',
      'price numeric not null',
      'size numeric not null',
      'side text',
      'raw jsonb',
    ]);
    expect(columns('funding_rates')).toEqual([...common, 'rate numeric not null', 'next_rate numeric', 'raw jsonb']);
    expect(columns('ingest_events')).toEqual([
      'id bigint not null',
      'exchange_id integer',
      'market_id bigint',
      'symbol text',
      'event_type text',
      'status text',
      'message text',
      'ts timestamp with time zone',
    ]);
  });

  it('partitions the time-series tables by range on ts with a default partition and primary key (id, ts)', async () => {
    const client = await connect(url);
    for (const table of TIME_SERIES_TABLES) {
      const { rows } = await client.query<{ key: string; pk: string; default_part: string | null }>(
        `SELECT pg_get_partkeydef($1::regclass) AS key,
                (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p') AS pk,
                (SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                  WHERE i.inhparent = $1::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT') AS default_part`,
        [table],
      );
      expect(rows[0]).toEqual({ key: 'RANGE (ts)', pk: 'PRIMARY KEY (id, ts)', default_part: `${table}_default` });
    }
  });

  it('has the foreign keys, unique constraints, defaults and sequences of the design', async () => {
    const client = await connect(url);
    const { rows: constraints } = await client.query<{ rel: string; def: string }>(
      `SELECT conrelid::regclass::text AS rel, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE contype IN ('f', 'u') AND conrelid = ANY ($1::regclass[]) AND conparentid = 0 ORDER BY 1, 2`,
      [ALL_TABLES],
    );
    const expected = [
      ['exchanges', 'UNIQUE (name)'],
      ['markets', 'FOREIGN KEY (exchange_id) REFERENCES exchanges(id) ON DELETE CASCADE'],
      ['markets', 'UNIQUE (exchange_id, symbol)'],
      ...TIME_SERIES_TABLES.flatMap((t) => [
        [t, 'FOREIGN KEY (exchange_id) REFERENCES exchanges(id)'],
        [t, 'FOREIGN KEY (market_id) REFERENCES markets(id)'],
      ]),
    ];
    expect(constraints.map((c) => [c.rel, c.def])).toEqual(expected.sort((a, b) => `${a[0]} ${a[1]}`.localeCompare(`${b[0]} ${b[1]}`)));
    const { rows: defaults } = await client.query<{ table_name: string; column_name: string; column_default: string }>(
      `SELECT table_name, column_name, column_default FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = ANY ($1) AND column_default IS NOT NULL ORDER BY 1, 2`,
      [ALL_TABLES],
    );
    const byColumn = new Map(defaults.map((d) => [`${d.table_name}.${d.column_name}`, d.column_default]));
    expect(byColumn.get('exchanges.id')).toBe(`nextval('exchanges_id_seq'::regclass)`);
    expect(byColumn.get('markets.id')).toBe(`nextval('markets_id_seq'::regclass)`);
    expect(byColumn.get('ingest_events.ts')).toBe('now()');
    for (const table of TIME_SERIES_TABLES) {
      expect(byColumn.get(`${table}.id`)).toBe(`nextval('${table}_id_seq'::regclass)`);
      expect(byColumn.get(`${table}.received_at`)).toBe('now()');
    }
    expect(byColumn.get('exchanges.created_at')).toBe('now()');
    expect(byColumn.get('markets.created_at')).toBe('now()');
    const seqType = await client.query<{ t: string }>(
      `SELECT format_type(seqtypid, NULL) AS t FROM pg_sequence WHERE seqrelid = 'tickers_id_seq'::regclass`,
    );
    expect(seqType.rows[0]?.t).toBe('bigint');
  });

  it('declares the indexes on the parents so that every partition has them', async () => {
    const client = await connect(url);
    const { rows } = await client.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`,
    );
    const defs = new Map(rows.map((r) => [r.indexname, r.indexdef]));
    for (const table of TIME_SERIES_TABLES) {
      expect(defs.get(`idx_${table}_symbol_ts`)).toContain(`ON ONLY public.${table} USING btree (symbol, ts DESC)`);
      expect(defs.get(`idx_${table}_exchange_ts`)).toContain(`ON ONLY public.${table} USING btree (exchange_id, ts DESC)`);
      // Every partition, the default and the day partitions, carries both indexes.
      const parts = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass`,
        [table],
      );
      expect(Number(parts.rows[0]?.n)).toBe(4); // default + 3 days
      for (const index of [`idx_${table}_symbol_ts`, `idx_${table}_exchange_ts`]) {
        const attached = await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_inherits WHERE inhparent = $1::regclass`, [index]);
        expect(attached.rows[0]?.n).toBe(parts.rows[0]?.n);
      }
      expect(defs.get(`idx_${table}_default_ts`)).toContain(`ON public.${table}_default USING btree (ts)`);
    }
    expect(defs.get('idx_exchanges_name')).toContain('(name)');
    expect(defs.get('idx_markets_exchange_symbol')).toContain('(exchange_id, symbol)');
    expect(defs.get('idx_ingest_events_ts')).toContain('(ts DESC)');
    expect(defs.get('idx_ingest_events_status')).toContain('(status)');
  });

  it('seeds the seven exchanges, idempotently', async () => {
    const client = await connect(url);
    const names = ['binance', 'bybit', 'kucoin', 'lighter', 'paradex', 'hyperliquid', 'cryptocom'];
    const { rows } = await client.query<{ name: string }>('SELECT name FROM exchanges ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(names);
    const seed = readMigrationFiles().find((f) => f.name === '0002_seed_exchanges.sql');
    await client.query(seed?.sql ?? 'SELECT missing_seed_file');
    const again = await client.query<{ name: string }>('SELECT name FROM exchanges ORDER BY id');
    expect(again.rows.map((r) => r.name)).toEqual(names);
  });

  it('creates reader and writer roles whose rights also cover partitions created later', async () => {
    const client = await connect(url);
    const check = async (role: string, privilege: string, relation: string) =>
      (await client.query<{ ok: boolean }>('SELECT has_table_privilege($1, $2, $3) AS ok', [role, relation, privilege])).rows[0]?.ok;
    expect(await check('perps_reader', 'SELECT', 'tickers')).toBe(true);
    expect(await check('perps_reader', 'INSERT', 'tickers')).toBe(false);
    expect(await check('perps_writer', 'INSERT', 'trades')).toBe(true);
    expect(await check('perps_writer', 'SELECT', 'trades')).toBe(true);
    expect(await check('perps_writer', 'UPDATE', 'trades')).toBe(false);
    expect(await check('perps_writer', 'DELETE', 'trades')).toBe(false);
    expect(await check('perps_writer', 'TRUNCATE', 'trades')).toBe(false);
    // Partitions created by the maintenance run after the migration.
    expect(await check('perps_reader', 'SELECT', 'tickers_2026_03_12')).toBe(true);
    // The writer inserts through the parent, which routes rows with the parent's privileges;
    // it may not write into a partition directly (issue 22 point 9).
    expect(await check('perps_writer', 'SELECT', 'tickers_2026_03_12')).toBe(true);
    expect(await check('perps_writer', 'INSERT', 'tickers_2026_03_12')).toBe(false);
    expect(await check('perps_writer', 'INSERT', 'exchanges')).toBe(false);
    expect(await check('perps_writer', 'INSERT', 'perps_schema_migrations')).toBe(false);
    const seq = await client.query<{ usage: boolean; select: boolean; reader: boolean }>(
      `SELECT has_sequence_privilege('perps_writer', 'tickers_id_seq', 'USAGE') AS usage,
              has_sequence_privilege('perps_writer', 'tickers_id_seq', 'SELECT') AS select,
              has_sequence_privilege('perps_reader', 'tickers_id_seq', 'USAGE') AS reader`,
    );
    expect(seq.rows[0]).toEqual({ usage: true, select: true, reader: false });
  });

  it('changes nothing when init runs again', async () => {
    const client = await connect(url);
    const before = await catalogSnapshot(client);
    const again = await initDatabase(testContext(url, { now: NOW }), { daysAhead: 3 });
    expect(again.migrate.applied).toBe(0);
    expect(again.partitions.partitions_created).toBe(0);
    expect(await catalogSnapshot(client)).toEqual(before);
  });
});
