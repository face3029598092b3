import { GatehouseError } from '@gatehouse/contracts';
import { ExchangeRateLimit } from './token-exchange.controller';

describe('ExchangeRateLimit', () => {
  let now: number;
  let limit: ExchangeRateLimit;

  beforeEach(() => {
    now = 1_000_000;
    limit = new ExchangeRateLimit(3, 60_000, () => now);
  });

  function refusal(keyHash: string): GatehouseError | undefined {
    try {
      limit.consume(keyHash);
      return undefined;
    } catch (error) {
      if (error instanceof GatehouseError) return error;
      throw error;
    }
  }

  it('admits the limit per key and window, then 429 with the seconds left in the window', () => {
    for (let i = 0; i < 3; i += 1) expect(refusal('key-a')).toBeUndefined();
    now += 20_000;
    const refused = refusal('key-a');
    expect(refused?.code).toBe('rate_limit_exceeded');
    expect(refused?.details).toEqual({ retryAfter: 40 });
    expect(refusal('key-b')).toBeUndefined();
  });

  it('starts a new window once the previous one is over', () => {
    for (let i = 0; i < 4; i += 1) refusal('key-a');
    now += 60_000;
    expect(refusal('key-a')).toBeUndefined();
  });
});
