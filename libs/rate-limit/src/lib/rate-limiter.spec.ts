import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { FailureRule, RateLimitDecision, RateLimitRule } from './rate-limit-rule';
import { MemoryRateLimitStore, RateLimitStore, type StoreLimiterOptions } from './rate-limit-store';
import { RateLimiter, type RateLimiterOptions } from './rate-limiter';

// Counting assertions use a 60 s window so that a slow machine never crosses a window boundary mid-test; the
// tests about time passing use fake timers instead of sleeping.
const RULE: RateLimitRule = { limit: 5, burst: 3, windowSeconds: 60 };
const FAILURES: FailureRule = { maxFailures: 3, windowSeconds: 60, blockSeconds: 300 };

const limiters: RateLimiter[] = [];

function newLimiter(options: Partial<RateLimiterOptions> = {}): RateLimiter {
  const limiter = new RateLimiter({ store: new MemoryRateLimitStore(), keyPrefix: 'unit', ...options });
  limiters.push(limiter);
  return limiter;
}

async function consumeTimes(
  limiter: RateLimiter,
  times: number,
  key = 'client-a',
  rule = RULE,
  bucket = 'api',
): Promise<RateLimitDecision[]> {
  const decisions: RateLimitDecision[] = [];
  for (let i = 0; i < times; i++) decisions.push(await limiter.consume(bucket, key, rule));
  return decisions;
}

async function failTimes(
  limiter: RateLimiter,
  times: number,
  key = '203.0.113.7',
): Promise<RateLimitDecision[]> {
  const decisions: RateLimitDecision[] = [];
  for (let i = 0; i < times; i++)
    decisions.push(await limiter.recordFailure('failed_attempts', key, FAILURES));
  return decisions;
}

function useFakeClock(): void {
  // Only the clock and timers: promises must keep resolving on their own.
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
}

afterEach(async () => {
  jest.useRealTimers();
  await Promise.all(limiters.splice(0).map((limiter) => limiter.close()));
});

describe('RateLimiter with the memory store', () => {
  it('admits exactly limit + burst requests in a window, then refuses', async () => {
    const limiter = newLimiter();

    const admitted = await consumeTimes(limiter, RULE.limit + RULE.burst);
    const refused = await consumeTimes(limiter, 3);

    expect(admitted.map((decision) => decision.allowed)).toEqual(Array(8).fill(true));
    for (const decision of refused) {
      expect(decision).toMatchObject({ allowed: false, limit: 5, remaining: 0, store: 'local' });
      expect(decision.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(decision.retryAfterSeconds).toBeLessThanOrEqual(60);
      expect(Number.isInteger(decision.retryAfterSeconds)).toBe(true);
    }
  });

  it('counts remaining down through the limit and reports 0 while running on the burst', async () => {
    const decisions = await consumeTimes(newLimiter(), 8);

    expect(decisions.map((decision) => decision.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0, 0]);
    expect(decisions.every((decision) => decision.limit === 5 && decision.retryAfterSeconds === 0)).toBe(
      true,
    );
    expect(decisions.every((decision) => decision.store === 'local')).toBe(true);
  });

  it('announces a reset time in the future and within the window', async () => {
    const limiter = newLimiter();
    const before = Date.now();
    const decisions = await consumeTimes(limiter, 9);
    const after = Date.now();

    for (const decision of decisions) {
      expect(decision.resetSeconds * 1000).toBeGreaterThan(before);
      expect(decision.resetSeconds).toBeLessThanOrEqual(Math.ceil((after + 60_000) / 1000));
    }
    const refused = decisions[8];
    expect(refused.allowed).toBe(false);
    // Retry-After and X-RateLimit-Reset point at the same moment, up to rounding.
    expect(
      Math.abs(refused.resetSeconds - Math.ceil(after / 1000) - refused.retryAfterSeconds),
    ).toBeLessThanOrEqual(1);
  });

  it('gives every key its own count', async () => {
    const limiter = newLimiter();
    await consumeTimes(limiter, 9, 'client-a');

    const other = await limiter.consume('api', 'client-b', RULE);

    expect(other).toMatchObject({ allowed: true, remaining: 4 });
    await expect(limiter.consume('api', 'client-a', RULE)).resolves.toMatchObject({ allowed: false });
  });

  it('gives every bucket its own count for the same key and rule', async () => {
    const limiter = newLimiter();
    await consumeTimes(limiter, 9, 'client-a', RULE, 'api');

    await expect(limiter.consume('authenticate', 'client-a', RULE)).resolves.toMatchObject({
      allowed: true,
      remaining: 4,
    });
  });

  it('starts a fresh count when the rule of a key changes', async () => {
    const limiter = newLimiter();
    await consumeTimes(limiter, 9, 'client-a');

    const upgraded = await limiter.consume('api', 'client-a', { limit: 300, burst: 50, windowSeconds: 60 });

    expect(upgraded).toMatchObject({ allowed: true, limit: 300, remaining: 299 });
  });

  it('admits exactly limit requests with a burst of 0', async () => {
    const rule = { limit: 3, burst: 0, windowSeconds: 60 };
    const decisions = await consumeTimes(newLimiter(), 5, 'client-a', rule);

    expect(decisions.map((decision) => [decision.allowed, decision.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
      [false, 0],
    ]);
  });

  it('admits again once the window is over, and not before', async () => {
    useFakeClock();
    const limiter = newLimiter();
    await consumeTimes(limiter, 8);

    const refused = await limiter.consume('api', 'client-a', RULE);
    expect(refused).toMatchObject({ allowed: false, retryAfterSeconds: 60 });

    jest.advanceTimersByTime(59_000);
    await expect(limiter.consume('api', 'client-a', RULE)).resolves.toMatchObject({
      allowed: false,
      retryAfterSeconds: 1,
    });

    jest.advanceTimersByTime(1_000);
    const next = await consumeTimes(limiter, 9);
    expect(next.map((decision) => decision.allowed)).toEqual([...Array(8).fill(true), false]);
  });

  it('never reports a negative remaining count or a zero Retry-After', async () => {
    const decisions = await consumeTimes(newLimiter(), 40, 'client-a', {
      limit: 1,
      burst: 1,
      windowSeconds: 60,
    });

    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(2);
    expect(decisions.every((decision) => decision.remaining >= 0)).toBe(true);
    expect(decisions.filter((d) => !d.allowed).every((decision) => decision.retryAfterSeconds >= 1)).toBe(
      true,
    );
  });
});

describe('RateLimiter failure blocking', () => {
  it('tolerates maxFailures failures in a window and blocks the key on the next one', async () => {
    const limiter = newLimiter();

    const tolerated = await failTimes(limiter, 3);
    expect(tolerated.map((decision) => [decision.allowed, decision.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
    ]);
    await expect(limiter.checkFailures('failed_attempts', '203.0.113.7', FAILURES)).resolves.toMatchObject({
      allowed: true,
      retryAfterSeconds: 0,
    });

    const blocking = await limiter.recordFailure('failed_attempts', '203.0.113.7', FAILURES);
    expect(blocking).toMatchObject({ allowed: false, limit: 3, remaining: 0, retryAfterSeconds: 300 });

    const check = await limiter.checkFailures('failed_attempts', '203.0.113.7', FAILURES);
    expect(check).toMatchObject({ allowed: false, limit: 3, remaining: 0, store: 'local' });
    expect(check.retryAfterSeconds).toBeGreaterThanOrEqual(299);
    expect(check.retryAfterSeconds).toBeLessThanOrEqual(300);
    expect(check.resetSeconds * 1000).toBeGreaterThan(Date.now() + 290_000);
  });

  it('does not count anything when only checking', async () => {
    const limiter = newLimiter();
    for (let i = 0; i < 10; i++) {
      await expect(limiter.checkFailures('failed_attempts', '203.0.113.7', FAILURES)).resolves.toMatchObject({
        allowed: true,
        remaining: 3,
      });
    }

    const decisions = await failTimes(limiter, 3);

    expect(decisions.every((decision) => decision.allowed)).toBe(true);
    await expect(limiter.checkFailures('failed_attempts', '203.0.113.7', FAILURES)).resolves.toMatchObject({
      allowed: true,
      remaining: 0,
    });
  });

  it('blocks one key without blocking another', async () => {
    const limiter = newLimiter();
    await failTimes(limiter, 4, '203.0.113.7');

    await expect(limiter.checkFailures('failed_attempts', '198.51.100.1', FAILURES)).resolves.toMatchObject({
      allowed: true,
    });
    await expect(limiter.checkFailures('failed_attempts', '203.0.113.7', FAILURES)).resolves.toMatchObject({
      allowed: false,
    });
  });

  it('lifts the block after blockSeconds, and not before', async () => {
    useFakeClock();
    const limiter = newLimiter();
    await failTimes(limiter, 4);

    jest.advanceTimersByTime(299_000);
    await expect(limiter.checkFailures('failed_attempts', '203.0.113.7', FAILURES)).resolves.toMatchObject({
      allowed: false,
      retryAfterSeconds: 1,
    });

    jest.advanceTimersByTime(1_000);
    await expect(limiter.checkFailures('failed_attempts', '203.0.113.7', FAILURES)).resolves.toMatchObject({
      allowed: true,
      remaining: 3,
    });
  });

  it('does not extend the block with failures recorded while blocked', async () => {
    useFakeClock();
    const limiter = newLimiter();
    await failTimes(limiter, 4);

    jest.advanceTimersByTime(100_000);
    const during = await limiter.recordFailure('failed_attempts', '203.0.113.7', FAILURES);

    expect(during).toMatchObject({ allowed: false, retryAfterSeconds: 200 });
  });

  it('does not add up failures further apart than the window', async () => {
    useFakeClock();
    const limiter = newLimiter();
    await failTimes(limiter, 3);

    jest.advanceTimersByTime(60_000);
    const next = await limiter.recordFailure('failed_attempts', '203.0.113.7', FAILURES);

    expect(next).toMatchObject({ allowed: true, remaining: 2 });
  });
});

describe('RateLimiter arguments', () => {
  it.each<RateLimitRule>([
    { limit: 0, burst: 1, windowSeconds: 60 },
    { limit: 10, burst: -1, windowSeconds: 60 },
    { limit: 10, burst: 1, windowSeconds: 0 },
    { limit: 10.5, burst: 1, windowSeconds: 60 },
  ])('rejects the rate limit rule %j', async (rule) => {
    await expect(newLimiter().consume('api', 'client-a', rule)).rejects.toThrow(/^Invalid rate limit rule: /);
  });

  it('rejects a nonsensical failure rule when checking and when recording', async () => {
    const limiter = newLimiter();
    const rule = { maxFailures: 0, windowSeconds: 60, blockSeconds: 300 };

    await expect(limiter.checkFailures('failed_attempts', 'ip', rule)).rejects.toThrow(
      /^Invalid failure rule: /,
    );
    await expect(limiter.recordFailure('failed_attempts', 'ip', rule)).rejects.toThrow(
      /^Invalid failure rule: /,
    );
  });

  it.each(['', 'a:b', 'with space', 'x'.repeat(65)])('rejects the bucket %j', async (bucket) => {
    await expect(newLimiter().consume(bucket, 'client-a', RULE)).rejects.toThrow(/Invalid rate limit bucket/);
  });

  it('rejects an empty key, and takes long ones', async () => {
    const limiter = newLimiter();

    await expect(limiter.consume('api', '', RULE)).rejects.toThrow(
      'Rate limit key must be a non-empty string',
    );
    await expect(limiter.consume('api', 'f'.repeat(512), RULE)).resolves.toMatchObject({ allowed: true });
  });

  it('rejects an empty keyPrefix and a nonsensical cache size', () => {
    expect(() => new RateLimiter({ store: new MemoryRateLimitStore(), keyPrefix: '' })).toThrow(/keyPrefix/);
    expect(
      () => new RateLimiter({ store: new MemoryRateLimitStore(), keyPrefix: 'unit', maxCachedRules: 0 }),
    ).toThrow(/maxCachedRules/);
  });
});

describe('RateLimiter callbacks and lifecycle', () => {
  it('reports every consume and failure check to onDecision, not the failures recorded', async () => {
    const onDecision = jest.fn();
    const limiter = newLimiter({ onDecision });

    const consumed = await limiter.consume('api', 'client-a', RULE);
    await limiter.recordFailure('failed_attempts', 'ip', FAILURES);
    const checked = await limiter.checkFailures('failed_attempts', 'ip', FAILURES);

    expect(onDecision.mock.calls).toEqual([
      ['api', consumed],
      ['failed_attempts', checked],
    ]);
  });

  it('refuses calls once closed, and closes its store', async () => {
    const store = new MemoryRateLimitStore();
    const closeStore = jest.spyOn(store, 'close');
    const limiter = new RateLimiter({ store, keyPrefix: 'unit' });

    await limiter.close();
    await limiter.close();

    expect(closeStore).toHaveBeenCalledTimes(1);
    await expect(limiter.consume('api', 'client-a', RULE)).rejects.toThrow('RateLimiter is closed');
    await expect(limiter.checkFailures('failed_attempts', 'ip', FAILURES)).rejects.toThrow(
      'RateLimiter is closed',
    );
  });

  it('keeps limiters for a bounded number of rules, dropping the least recently used', async () => {
    const store = new MemoryRateLimitStore();
    const created = jest.spyOn(store, 'createLimiter');
    const limiter = newLimiter({ store, maxCachedRules: 2 });
    const rule = (limit: number): RateLimitRule => ({ limit, burst: 0, windowSeconds: 60 });

    await limiter.consume('api', 'k', rule(1));
    await limiter.consume('api', 'k', rule(2));
    await limiter.consume('api', 'k', rule(1));
    expect(created).toHaveBeenCalledTimes(2);

    await limiter.consume('api', 'k', rule(3)); // drops rule 2, used least recently
    await limiter.consume('api', 'k', rule(1));
    expect(created).toHaveBeenCalledTimes(3);

    await limiter.consume('api', 'k', rule(2));
    expect(created).toHaveBeenCalledTimes(4);
  });
});

/** A shared store that can be made to fail, the way RateLimiterRedis fails while Redis is unreachable. */
class FlakySharedStore extends RateLimitStore {
  readonly kind = 'shared';
  failure: Error | undefined;

  createLimiter(options: StoreLimiterOptions): RateLimiterAbstract {
    return new FlakyLimiter(this, {
      keyPrefix: options.keyPrefix,
      points: options.points,
      duration: options.durationSeconds,
      blockDuration: options.blockSeconds ?? 0,
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

class FlakyLimiter extends RateLimiterMemory {
  constructor(
    private readonly store: FlakySharedStore,
    options: ConstructorParameters<typeof RateLimiterMemory>[0],
  ) {
    super(options);
  }

  override consume(
    ...args: Parameters<RateLimiterMemory['consume']>
  ): ReturnType<RateLimiterMemory['consume']> {
    return this.store.failure ? Promise.reject(this.store.failure) : super.consume(...args);
  }

  override get(...args: Parameters<RateLimiterMemory['get']>): ReturnType<RateLimiterMemory['get']> {
    return this.store.failure ? Promise.reject(this.store.failure) : super.get(...args);
  }
}

describe('RateLimiter falling back from a failing shared store', () => {
  const rule: RateLimitRule = { limit: 2, burst: 1, windowSeconds: 60 };

  it('decides on the shared store while it answers', async () => {
    const onStoreChange = jest.fn();
    const limiter = newLimiter({ store: new FlakySharedStore(), onStoreChange });

    const decisions = await consumeTimes(limiter, 4, 'client-a', rule);

    expect(decisions.map((decision) => [decision.allowed, decision.store])).toEqual([
      [true, 'shared'],
      [true, 'shared'],
      [true, 'shared'],
      [false, 'shared'],
    ]);
    expect(limiter.currentStore).toBe('shared');
    expect(onStoreChange).not.toHaveBeenCalled();
  });

  it('enforces the rule locally while the shared store fails, and reports the change once', async () => {
    const store = new FlakySharedStore();
    const onStoreChange = jest.fn();
    const limiter = newLimiter({ store, onStoreChange });
    store.failure = new Error('Redis connection is not ready');

    const decisions = await consumeTimes(limiter, 5, 'client-a', rule);

    expect(decisions.map((decision) => [decision.allowed, decision.store])).toEqual([
      [true, 'local'],
      [true, 'local'],
      [true, 'local'],
      [false, 'local'],
      [false, 'local'],
    ]);
    expect(limiter.currentStore).toBe('local');
    expect(onStoreChange.mock.calls).toEqual([['local', store.failure]]);
  });

  it('goes back to the shared store by itself as soon as it answers again', async () => {
    const store = new FlakySharedStore();
    const onStoreChange = jest.fn();
    const limiter = newLimiter({ store, onStoreChange });
    await limiter.consume('api', 'client-a', rule);
    const timeout = new Error('Command timed out');
    store.failure = timeout;
    await consumeTimes(limiter, 3, 'client-a', rule);

    store.failure = undefined;
    const back = await limiter.consume('api', 'client-a', rule);

    // The shared count only knows the request it saw before the failure.
    expect(back).toMatchObject({ allowed: true, remaining: 0, store: 'shared' });
    expect(onStoreChange.mock.calls).toEqual([
      ['local', timeout],
      ['shared', undefined],
    ]);
  });

  it('checks and records failures locally while the shared store fails', async () => {
    const store = new FlakySharedStore();
    const limiter = newLimiter({ store });
    store.failure = new Error('Connection is closed.');

    const recorded = await failTimes(limiter, 4);
    const check = await limiter.checkFailures('failed_attempts', '203.0.113.7', FAILURES);

    expect(recorded.map((decision) => [decision.allowed, decision.store])).toEqual([
      [true, 'local'],
      [true, 'local'],
      [true, 'local'],
      [false, 'local'],
    ]);
    expect(check).toMatchObject({ allowed: false, store: 'local' });
  });
});
