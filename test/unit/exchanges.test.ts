import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SEEDED_EXCHANGES } from '../../functions/shared/exchanges';

describe('the seeded exchanges', () => {
  it('are the ones the seed migration inserts, in its order: the stack names an alarm per exchange from this list', () => {
    const seed = readFileSync(new URL('../../migrations/0002_seed_exchanges.sql', import.meta.url), 'utf8');
    const values = seed.slice(seed.indexOf('VALUES'), seed.indexOf('ON CONFLICT'));
    expect([...values.matchAll(/\('([^']+)'\)/g)].map((match) => match[1])).toEqual([...SEEDED_EXCHANGES]);
  });
});
