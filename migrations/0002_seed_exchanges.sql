-- The exchanges perps-stats ingests from. Idempotent: safe to re-run by hand.
INSERT INTO exchanges (name)
VALUES ('binance'), ('bybit'), ('kucoin'), ('lighter'), ('paradex'), ('hyperliquid'), ('cryptocom')
ON CONFLICT (name) DO NOTHING;
