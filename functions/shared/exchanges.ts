/**
 * The exchanges migrations/0002_seed_exchanges.sql seeds, in its order: the stack names one
 * alarm per exchange at synth, before any database exists (a unit test holds the two together).
 */
export const SEEDED_EXCHANGES = ['binance', 'bybit', 'kucoin', 'lighter', 'paradex', 'hyperliquid', 'cryptocom'] as const;
