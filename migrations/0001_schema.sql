-- perps-stats schema: reference tables, four day-partitioned time-series tables, ingest log.
-- Daily partitions are created by the `partitions` operation, never here: the DEFAULT partition
-- of each table makes sure an insert never fails for lack of a partition.

CREATE TABLE exchanges (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  created_at timestamptz DEFAULT now()
);
CREATE INDEX idx_exchanges_name ON exchanges (name);

CREATE TABLE markets (
  id bigserial PRIMARY KEY,
  exchange_id int NOT NULL REFERENCES exchanges ON DELETE CASCADE,
  symbol text NOT NULL,
  base_currency text,
  quote_currency text,
  contract_type text,
  tick_size numeric,
  lot_size numeric,
  metadata jsonb,
  created_at timestamptz DEFAULT now(),
  UNIQUE (exchange_id, symbol)
);
CREATE INDEX idx_markets_exchange_symbol ON markets (exchange_id, symbol);

CREATE TABLE tickers (
  id bigserial,
  exchange_id int NOT NULL REFERENCES exchanges,
  market_id bigint REFERENCES markets,
  symbol text NOT NULL,
  ts timestamptz NOT NULL,
  received_at timestamptz DEFAULT now(),
  last_price numeric,
  mark_price numeric,
  index_price numeric,
  best_bid numeric,
  best_ask numeric,
  volume_24h numeric,
  turnover_24h numeric,
  price_change_24h numeric,
  high_24h numeric,
  low_24h numeric,
  PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE orderbooks (
  id bigserial,
  exchange_id int NOT NULL REFERENCES exchanges,
  market_id bigint REFERENCES markets,
  symbol text NOT NULL,
  ts timestamptz NOT NULL,
  received_at timestamptz DEFAULT now(),
  bids_notional numeric,
  asks_notional numeric,
  raw_book jsonb,
  spread_bps numeric,
  PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE trades (
  id bigserial,
  exchange_id int NOT NULL REFERENCES exchanges,
  market_id bigint REFERENCES markets,
  symbol text NOT NULL,
  ts timestamptz NOT NULL,
  received_at timestamptz DEFAULT now(),
  trade_id text,
  price numeric NOT NULL,
  size numeric NOT NULL,
  side text,
  raw jsonb,
  PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE funding_rates (
  id bigserial,
  exchange_id int NOT NULL REFERENCES exchanges,
  market_id bigint REFERENCES markets,
  symbol text NOT NULL,
  ts timestamptz NOT NULL,
  received_at timestamptz DEFAULT now(),
  rate numeric NOT NULL,
  next_rate numeric,
  raw jsonb,
  PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);

-- Declared on the parents so that every partition, present and future, gets them. Stats and
-- retention rely on (symbol, ts DESC) to avoid scanning whole partitions.
CREATE INDEX idx_tickers_symbol_ts ON tickers (symbol, ts DESC);
CREATE INDEX idx_tickers_exchange_ts ON tickers (exchange_id, ts DESC);
CREATE INDEX idx_orderbooks_symbol_ts ON orderbooks (symbol, ts DESC);
CREATE INDEX idx_orderbooks_exchange_ts ON orderbooks (exchange_id, ts DESC);
CREATE INDEX idx_trades_symbol_ts ON trades (symbol, ts DESC);
CREATE INDEX idx_trades_exchange_ts ON trades (exchange_id, ts DESC);
CREATE INDEX idx_funding_rates_symbol_ts ON funding_rates (symbol, ts DESC);
CREATE INDEX idx_funding_rates_exchange_ts ON funding_rates (exchange_id, ts DESC);

CREATE TABLE tickers_default PARTITION OF tickers DEFAULT;
CREATE TABLE orderbooks_default PARTITION OF orderbooks DEFAULT;
CREATE TABLE trades_default PARTITION OF trades DEFAULT;
CREATE TABLE funding_rates_default PARTITION OF funding_rates DEFAULT;

-- Only the DEFAULT partitions get a plain ts index: moving their rows out day by day, and
-- finding old rows there, would otherwise scan the whole default partition for every batch.
-- They are normally empty, so the index costs ingestion nothing.
CREATE INDEX idx_tickers_default_ts ON tickers_default (ts);
CREATE INDEX idx_orderbooks_default_ts ON orderbooks_default (ts);
CREATE INDEX idx_trades_default_ts ON trades_default (ts);
CREATE INDEX idx_funding_rates_default_ts ON funding_rates_default (ts);

CREATE TABLE ingest_events (
  id bigserial PRIMARY KEY,
  exchange_id int,
  market_id bigint,
  symbol text,
  event_type text,
  status text,
  message text,
  ts timestamptz DEFAULT now()
);
CREATE INDEX idx_ingest_events_ts ON ingest_events (ts DESC);
CREATE INDEX idx_ingest_events_status ON ingest_events (status);
