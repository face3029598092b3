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

/**
 * A shared store that can be made to fail, the way RateLimiterRedis fails while Redis is unreachable. Like Redis,
 * it keeps one set of counters per key prefix: limiters given to several RateLimiters (replicas) share them.
 */
class FlakySharedStore extends RateLimitStore {
  readonly kind = 'shared';
  failure: Error | undefined;
  /** While set, calls wait for it before they are answered (or fail): a slow Redis. */
  gate: Promise<void> | undefined;
  /**
   * The points of every call made on a main counter, failed ones included. Every call of a rule's limiter starts
   * there, so this is one entry per store call of `RateLimiter.consume`.
   */
  readonly calls: number[] = [];
  private readonly counters = new Map<string, FlakyLimiter>();

  createLimiter(options: StoreLimiterOptions): RateLimiterAbstract {
    let limiter = this.counters.get(options.keyPrefix);
    if (!limiter) {
      limiter = new FlakyLimiter(this, {
        keyPrefix: options.keyPrefix,
        points: options.points,
        duration: options.durationSeconds,
        blockDuration: options.blockSeconds ?? 0,
      });
      this.counters.set(options.keyPrefix, limiter);
    }
    return limiter;
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
    if (this.keyPrefix.endsWith(':main')) this.store.calls.push(args[1] ?? 1);
    const answer = (): ReturnType<RateLimiterMemory['consume']> =>
      this.store.failure ? Promise.reject(this.store.failure) : super.consume(...args);
    return this.store.gate ? this.store.gate.then(answer) : answer();
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

describe('RateLimiter leases on a shared store', () => {
  /** limit + burst = 1100: leases of n = 11 with the default divisor of 100. */
  const BIG: RateLimitRule = { limit: 1000, burst: 100, windowSeconds: 60 };
  const N = 11;

  /** A store call waits until the returned function is called. */
  function hold(store: FlakySharedStore): () => void {
    let release: () => void = () => undefined;
    store.gate = new Promise<void>((resolve) => (release = resolve));
    return () => {
      store.gate = undefined;
      release();
    };
  }

  async function settleCalls(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
  }

  it('makes one shared call per n requests instead of one per request', async () => {
    const store = new FlakySharedStore();
    const limiter = newLimiter({ store });

    const decisions = await consumeTimes(limiter, 50, 'client-a', BIG);

    expect(store.calls).toEqual(Array(Math.ceil(50 / N)).fill(N));
    expect(decisions.every((decision) => decision.allowed && decision.store === 'shared')).toBe(true);
    expect(limiter.currentStore).toBe('shared');
  });

  it('reports remaining and reset as if every request had been counted on its own', async () => {
    useFakeClock();
    jest.setSystemTime(1_700_000_000_250);
    const store = new FlakySharedStore();
    const leased = await consumeTimes(newLimiter({ store }), 25, 'client-a', BIG);
    const exact = await consumeTimes(newLimiter(), 25, 'client-a', BIG);

    expect(store.calls).toHaveLength(3);
    expect(leased.map((decision) => decision.remaining)).toEqual(
      Array.from({ length: 25 }, (_, i) => 999 - i),
    );
    expect(leased.map(({ store: _, ...rest }) => rest)).toEqual(exact.map(({ store: _, ...rest }) => rest));
    // The end of the window the leases were taken in.
    expect(leased.every((decision) => decision.resetSeconds === Math.ceil(1_700_000_060_250 / 1000))).toBe(
      true,
    );
  });

  it('admits from a lease until its window ends, then loses its unused units and takes a new one', async () => {
    useFakeClock();
    const store = new FlakySharedStore();
    const limiter = newLimiter({ store });
    const start = Date.now();
    await consumeTimes(limiter, 3, 'client-a', BIG);

    jest.advanceTimersByTime(59_999);
    const late = await limiter.consume('api', 'client-a', BIG);
    expect(late).toMatchObject({
      allowed: true,
      remaining: 996,
      resetSeconds: Math.ceil((start + 60_000) / 1000),
    });
    expect(store.calls).toEqual([N]);

    jest.advanceTimersByTime(1);
    const next = await limiter.consume('api', 'client-a', BIG);
    // A new window: the 7 units left of the old lease are gone, and were never admitted in this one.
    expect(store.calls).toEqual([N, N]);
    expect(next).toMatchObject({
      allowed: true,
      remaining: 999,
      resetSeconds: Math.ceil((start + 120_000) / 1000),
    });
  });

  it('makes concurrent requests for a key share one acquisition, and acquire another when it runs out', async () => {
    const store = new FlakySharedStore();
    const limiter = newLimiter({ store });
    const release = hold(store);

    const pending = Promise.all(Array.from({ length: 30 }, () => limiter.consume('api', 'client-a', BIG)));
    await settleCalls();
    expect(store.calls).toEqual([N]);
    release();
    const decisions = await pending;

    expect(store.calls).toEqual(Array(Math.ceil(30 / N)).fill(N));
    expect(decisions.every((decision) => decision.allowed && decision.store === 'shared')).toBe(true);
    expect(decisions.map((decision) => decision.remaining).sort((a, b) => b - a)).toEqual(
      Array.from({ length: 30 }, (_, i) => 999 - i),
    );
  });

  it('acquires one unit at a time near the end of the budget, admitting exactly limit + burst', async () => {
    useFakeClock();
    const store = new FlakySharedStore();
    const leased = await consumeTimes(newLimiter({ store }), 1103, 'client-a', BIG);
    const exact = await consumeTimes(newLimiter(), 1103, 'client-a', BIG);

    expect(store.calls).toEqual([
      ...Array(90).fill(N), // 990 of the limit
      ...Array(10).fill(1), // its last 10: fewer than n
      ...Array(9).fill(N), // 99 of the burst
      1, // its last one
      ...Array(3).fill(1), // the refused ones: one call each, as without leases
    ]);
    expect(leased.filter((decision) => decision.allowed)).toHaveLength(1100);
    expect(leased.map(({ store: _, ...rest }) => rest)).toEqual(exact.map(({ store: _, ...rest }) => rest));
    expect(leased[1100]).toMatchObject({
      allowed: false,
      remaining: 0,
      retryAfterSeconds: 60,
      store: 'shared',
    });
  });

  it('once the budget is known to be spent, makes one call per request, concurrently, as without leases', async () => {
    const store = new FlakySharedStore();
    const limiter = newLimiter({ store });
    await consumeTimes(limiter, 1100, 'client-a', BIG);
    store.calls.length = 0;
    const release = hold(store);

    const pending = Promise.all(Array.from({ length: 4 }, () => limiter.consume('api', 'client-a', BIG)));
    await settleCalls();
    expect(store.calls).toEqual([1, 1, 1, 1]);
    release();
    const decisions = await pending;

    expect(decisions.every((decision) => !decision.allowed && decision.remaining === 0)).toBe(true);
    expect(decisions.every((decision) => decision.retryAfterSeconds >= 1)).toBe(true);
  });

  it('refuses the requests that waited on a refused acquisition, one call each, as without leases', async () => {
    const store = new FlakySharedStore();
    const [first, second] = [newLimiter({ store }), newLimiter({ store })];
    // The first replica's lease is used up; what it knows (989 left) goes stale while the second spends the rest.
    await consumeTimes(first, N, 'client-a', BIG);
    await consumeTimes(second, 1100 - N, 'client-a', BIG);
    store.calls.length = 0;

    const decisions = await Promise.all(
      Array.from({ length: 4 }, () => first.consume('api', 'client-a', BIG)),
    );

    expect(store.calls).toEqual([N, 1, 1, 1]);
    expect(decisions.map((decision) => [decision.allowed, decision.remaining, decision.store])).toEqual(
      Array(4).fill([false, 0, 'shared']),
    );
  });

  it('lets replicas together admit at most limit + burst, losing fewer than n on each counter', async () => {
    const store = new FlakySharedStore();
    const replicas = [newLimiter({ store }), newLimiter({ store }), newLimiter({ store })];

    const decisions = await Promise.all(
      Array.from({ length: 3000 }, (_, i) => replicas[i % 3].consume('api', 'client-a', BIG)),
    );

    const admitted = decisions.filter((decision) => decision.allowed).length;
    expect(admitted).toBeLessThanOrEqual(1100);
    // Every request is sent at once, so no replica is left holding units; what a lease of n found short of n on
    // the main and on the burst counter is lost, whatever the number of replicas.
    expect(admitted).toBeGreaterThanOrEqual(1100 - 2 * (N - 1));
    expect(decisions.every((decision) => decision.store === 'shared')).toBe(true);
  });

  it('loses fewer than n units when a replica acquires n on what it last saw and finds less', async () => {
    const store = new FlakySharedStore();
    const [first, second] = [newLimiter({ store }), newLimiter({ store })];
    const before = [
      ...(await consumeTimes(first, N, 'client-a', BIG)),
      // 5 left of the limit, which the first replica does not know.
      ...(await consumeTimes(second, BIG.limit - N - 5, 'client-a', BIG)),
    ];
    store.calls.length = 0;

    const crossing = await consumeTimes(first, N, 'client-a', BIG);
    expect(store.calls).toEqual([N]);
    const rest = await consumeTimes(second, 200, 'client-a', BIG);

    // The lease was charged to the burst whole, after wasting the 5 left of the limit; the burst counter itself is
    // used exactly, the second replica knowing how much of it is left.
    expect(crossing.map((decision) => [decision.allowed, decision.remaining])).toEqual(
      Array(N).fill([true, 0]),
    );
    expect(rest.filter((decision) => decision.allowed)).toHaveLength(BIG.burst - N);
    const admitted = [...before, ...crossing, ...rest].filter((decision) => decision.allowed);
    expect(admitted).toHaveLength(BIG.limit + BIG.burst - 5);
  });

  it.each([
    [{ limit: 150, burst: 49, windowSeconds: 60 }, 1],
    [{ limit: 60, burst: 10, windowSeconds: 60 }, 1],
    [{ limit: 30, burst: 10, windowSeconds: 1 }, 1],
    [{ limit: 150, burst: 50, windowSeconds: 60 }, 2],
  ])('leases max(1, floor((limit + burst) / 100)) units under %j', async (rule, leaseSize) => {
    const store = new FlakySharedStore();

    const decisions = await consumeTimes(newLimiter({ store }), 10, 'client-a', rule);

    expect(store.calls).toEqual(Array(10 / leaseSize).fill(leaseSize));
    expect(decisions.map((decision) => decision.remaining)).toEqual(
      Array.from({ length: 10 }, (_, i) => rule.limit - 1 - i),
    );
  });

  it('takes its lease size from leaseDivisor, and leases nothing with 0', async () => {
    const off = new FlakySharedStore();
    const large = new FlakySharedStore();

    await consumeTimes(newLimiter({ store: off, leaseDivisor: 0 }), 20, 'client-a', BIG);
    await consumeTimes(newLimiter({ store: large, leaseDivisor: 10 }), 20, 'client-a', BIG);

    expect(off.calls).toEqual(Array(20).fill(1));
    expect(large.calls).toEqual([110]);
  });

  it.each([-1, 1.5, Number.NaN])('rejects the leaseDivisor %p', (leaseDivisor) => {
    expect(
      () => new RateLimiter({ store: new MemoryRateLimitStore(), keyPrefix: 'unit', leaseDivisor }),
    ).toThrow(/leaseDivisor must be a non-negative integer/);
  });

  it('never leases on a memory store', async () => {
    const consume = jest.spyOn(RateLimiterMemory.prototype, 'consume');

    await consumeTimes(newLimiter(), 20, 'client-a', BIG);

    expect(consume).toHaveBeenCalledTimes(20);
    expect(consume.mock.calls.every((call) => (call[1] ?? 1) === 1)).toBe(true);
    consume.mockRestore();
  });

  it('keeps leases apart per bucket, rule and key', async () => {
    const store = new FlakySharedStore();
    const limiter = newLimiter({ store });

    await limiter.consume('api', 'client-a', BIG);
    await limiter.consume('api', 'client-a', BIG);
    await limiter.consume('authenticate', 'client-a', BIG);
    await limiter.consume('api', 'client-b', BIG);
    const other = await limiter.consume('api', 'client-a', { ...BIG, limit: 2000 });

    expect(store.calls).toEqual([N, N, N, 21]);
    expect(other).toMatchObject({ allowed: true, limit: 2000, remaining: 1999 });
  });

  it('reports every decision to onDecision, leased ones included', async () => {
    const onDecision = jest.fn();
    const store = new FlakySharedStore();

    const decisions = await consumeTimes(newLimiter({ store, onDecision }), 15, 'client-a', BIG);

    expect(store.calls).toHaveLength(2);
    expect(onDecision.mock.calls).toEqual(decisions.map((decision) => ['api', decision]));
  });

  it('uses the units of a lease while the shared store fails, then decides in memory', async () => {
    const store = new FlakySharedStore();
    const onStoreChange = jest.fn();
    const limiter = newLimiter({ store, onStoreChange });
    await limiter.consume('api', 'client-a', BIG);
    store.failure = new Error('Redis connection is not ready');

    const leased = await consumeTimes(limiter, N - 1, 'client-a', BIG);
    expect(leased.every((decision) => decision.allowed && decision.store === 'shared')).toBe(true);
    expect(store.calls).toEqual([N]);
    expect(onStoreChange).not.toHaveBeenCalled();

    const local = await limiter.consume('api', 'client-a', BIG);
    expect(local).toMatchObject({ allowed: true, remaining: 999, store: 'local' });
    expect(store.calls).toEqual([N, N]);
    expect(onStoreChange.mock.calls).toEqual([['local', store.failure]]);
    expect(limiter.currentStore).toBe('local');
  });

  it('decides the requests waiting on a failed acquisition in memory, without trying again each', async () => {
    const store = new FlakySharedStore();
    const onStoreChange = jest.fn();
    const limiter = newLimiter({ store, onStoreChange });
    store.failure = new Error('Command timed out');
    const release = hold(store);

    const pending = Promise.all(Array.from({ length: 5 }, () => limiter.consume('api', 'client-a', BIG)));
    await settleCalls();
    release();
    const decisions = await pending;

    expect(store.calls).toEqual([N]);
    expect(decisions.map((decision) => [decision.allowed, decision.store])).toEqual(
      Array(5).fill([true, 'local']),
    );
    expect(decisions.map((decision) => decision.remaining).sort((a, b) => b - a)).toEqual([
      999, 998, 997, 996, 995,
    ]);
    expect(onStoreChange.mock.calls).toEqual([['local', store.failure]]);

    store.failure = undefined;
    await expect(limiter.consume('api', 'client-a', BIG)).resolves.toMatchObject({ store: 'shared' });
    expect(store.calls).toEqual([N, N]);
  });
});
