import {
  validateFailureRule,
  validateRateLimitRule,
  type FailureRule,
  type RateLimitRule,
} from './rate-limit-rule';

describe('validateRateLimitRule', () => {
  it.each<RateLimitRule>([
    { limit: 30, burst: 10, windowSeconds: 1 },
    { limit: 60, burst: 10, windowSeconds: 60 },
    { limit: 1, burst: 0, windowSeconds: 1 },
  ])('accepts %j', (rule) => {
    expect(() => validateRateLimitRule(rule)).not.toThrow();
  });

  it.each<[RateLimitRule, RegExp]>([
    [{ limit: 0, burst: 10, windowSeconds: 60 }, /limit must be a positive integer \(got 0\)/],
    [{ limit: -5, burst: 10, windowSeconds: 60 }, /limit must be a positive integer/],
    [{ limit: 1.5, burst: 10, windowSeconds: 60 }, /limit must be a positive integer/],
    [{ limit: Number.NaN, burst: 10, windowSeconds: 60 }, /limit must be a positive integer \(got NaN\)/],
    [{ limit: Infinity, burst: 10, windowSeconds: 60 }, /limit must be a positive integer/],
    [{ limit: '60' as unknown as number, burst: 10, windowSeconds: 60 }, /limit .*\(got string\)/],
    [{ limit: 60, burst: -1, windowSeconds: 60 }, /burst must be a non-negative integer/],
    [{ limit: 60, burst: 0.5, windowSeconds: 60 }, /burst must be a non-negative integer/],
    [{ limit: 60, burst: 10, windowSeconds: 0 }, /windowSeconds must be a positive integer/],
    [{ limit: 60, burst: 10, windowSeconds: 0.5 }, /windowSeconds must be a positive integer/],
  ])('rejects %j', (rule, message) => {
    expect(() => validateRateLimitRule(rule)).toThrow(message);
  });

  it('names every problem at once', () => {
    expect(() => validateRateLimitRule({ limit: 0, burst: -1, windowSeconds: 0 })).toThrow(
      'Invalid rate limit rule: limit must be a positive integer (got 0); ' +
        'burst must be a non-negative integer (got -1); windowSeconds must be a positive integer (got 0)',
    );
  });
});

describe('validateFailureRule', () => {
  it('accepts positive integers', () => {
    expect(() => validateFailureRule({ maxFailures: 5, windowSeconds: 60, blockSeconds: 300 })).not.toThrow();
  });

  it.each<[FailureRule, RegExp]>([
    [{ maxFailures: 0, windowSeconds: 60, blockSeconds: 300 }, /maxFailures must be a positive integer/],
    [{ maxFailures: 2.5, windowSeconds: 60, blockSeconds: 300 }, /maxFailures must be a positive integer/],
    [{ maxFailures: 5, windowSeconds: -60, blockSeconds: 300 }, /windowSeconds must be a positive integer/],
    [{ maxFailures: 5, windowSeconds: 60, blockSeconds: 0 }, /blockSeconds must be a positive integer/],
  ])('rejects %j', (rule, message) => {
    expect(() => validateFailureRule(rule)).toThrow(message);
  });
});
