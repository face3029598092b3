import {
  effectiveRateLimit,
  isPlan,
  isValidRateLimit,
  PLAN_RATE_LIMITS,
  PLANS,
  RATE_LIMIT_BURST_MAX,
  RATE_LIMIT_BURST_MIN,
  RATE_LIMIT_REQUESTS_PER_MINUTE_MAX,
  RATE_LIMIT_REQUESTS_PER_MINUTE_MIN,
  type Plan,
} from './rate-limits';

describe('PLAN_RATE_LIMITS', () => {
  it('gives each plan its published limit', () => {
    expect(PLAN_RATE_LIMITS).toEqual({
      starter: { requests_per_minute: 60, burst: 10 },
      pro: { requests_per_minute: 300, burst: 50 },
      enterprise: { requests_per_minute: 1000, burst: 100 },
    });
    expect(Object.keys(PLAN_RATE_LIMITS).sort()).toEqual([...PLANS].sort());
  });

  it.each(PLANS)('keeps the %s limit within the override bounds, so a broadcast of it parses', (plan) => {
    const limit = PLAN_RATE_LIMITS[plan];
    expect(isValidRateLimit(limit.requests_per_minute, limit.burst)).toBe(true);
  });
});

describe('isPlan', () => {
  it.each(PLANS)('accepts %s', (plan) => {
    expect(isPlan(plan)).toBe(true);
  });

  it.each(['free', 'Pro', '', 'toString', 1, null, undefined])('refuses %p', (value) => {
    expect(isPlan(value)).toBe(false);
  });
});

describe('isValidRateLimit', () => {
  it('accepts the bounds themselves', () => {
    expect(RATE_LIMIT_REQUESTS_PER_MINUTE_MIN).toBe(1);
    expect(RATE_LIMIT_REQUESTS_PER_MINUTE_MAX).toBe(100_000);
    expect(RATE_LIMIT_BURST_MIN).toBe(0);
    expect(RATE_LIMIT_BURST_MAX).toBe(10_000);
    expect(isValidRateLimit(1, 0)).toBe(true);
    expect(isValidRateLimit(100_000, 10_000)).toBe(true);
  });

  it.each([
    [0, 10],
    [100_001, 10],
    [60, -1],
    [60, 10_001],
    [1.5, 10],
    [60, 2.5],
    ['60', 10],
    [60, '10'],
    [Number.NaN, 10],
    [Number.POSITIVE_INFINITY, 10],
    [null, 10],
    [60, undefined],
  ])('refuses %p requests per minute with a burst of %p', (requestsPerMinute, burst) => {
    expect(isValidRateLimit(requestsPerMinute, burst)).toBe(false);
  });
});

describe('effectiveRateLimit', () => {
  it.each(PLANS)("is the %s plan's limit when the key has no override", (plan) => {
    expect(effectiveRateLimit(plan, null)).toEqual({ ...PLAN_RATE_LIMITS[plan], source: 'plan' });
  });

  it("is the override when the key has one, whatever the plan's", () => {
    const override = { requests_per_minute: 5, burst: 0 };
    expect(effectiveRateLimit('enterprise', override)).toEqual({
      requests_per_minute: 5,
      burst: 0,
      source: 'override',
    });
  });

  it('fails loudly for a plan it does not know rather than letting a key run unlimited', () => {
    expect(() => effectiveRateLimit('platinum' as Plan, null)).toThrow(
      'no rate limit is defined for plan "platinum"',
    );
  });

  it('returns a copy: changing it cannot change a plan for everyone', () => {
    const limit = effectiveRateLimit('pro', null);
    limit.requests_per_minute = 1;
    expect(PLAN_RATE_LIMITS.pro.requests_per_minute).toBe(300);
  });
});
