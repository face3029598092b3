import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import Redis from 'ioredis';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { TEST_REDIS_URL } from '@gatehouse/testing';
import type { FailureRule, RateLimitDecision, RateLimitRule } from './rate-limit-rule';
import type { StoreLimiterOptions } from './rate-limit-store';
import { RateLimiter } from './rate-limiter';
import { createRateLimitRedisClient, RedisRateLimitStore } from './redis-rate-limit-store';

const RULE: RateLimitRule = { limit: 10, burst: 5, windowSeconds: 60 };
const FAILURES: FailureRule = { maxFailures: 3, windowSeconds: 60, blockSeconds: 120 };
/** limit + burst = 1100: leases of n = 11 with the default divisor of 100. */
const LEASED_RULE: RateLimitRule = { limit: 1000, burst: 100, windowSeconds: 60 };
const LEASE_SIZE = 11;

/** Records the points of every Redis call on a main counter: every limiter call starts there. */
class CountingRedisStore extends RedisRateLimitStore {
  readonly calls: number[] = [];

  override createLimiter(options: StoreLimiterOptions): RateLimiterAbstract {
    const limiter = super.createLimiter(options);
    if (options.keyPrefix.endsWith(':main')) {
      const consume = limiter.consume.bind(limiter);
      limiter.consume = (key, points, ...rest) => {
        this.calls.push(points ?? 1);
        return consume(key, points, ...rest);
      };
    }
    return limiter;
  }
}

/** Without an offline queue the client refuses commands until connected: wait, so decisions are shared. */
async function ready(client: Redis): Promise<void> {
  if (client.status !== 'ready') await once(client, 'ready');
}

describe('RateLimiter on a shared Redis', () => {
  const limiters: RateLimiter[] = [];
  const prefixes: string[] = [];
  const admin = new Redis(TEST_REDIS_URL);

  /** One gateway replica: its own client, the shared Redis, the deployment's key prefix. */
  async function replica(keyPrefix: string): Promise<RateLimiter> {
    return (await countingReplica(keyPrefix)).limiter;
  }

  async function countingReplica(keyPrefix: string): Promise<{ limiter: RateLimiter; calls: number[] }> {
    const client = createRateLimitRedisClient(TEST_REDIS_URL, { commandTimeoutMs: 2_000 });
    const store = new CountingRedisStore(client);
    const limiter = new RateLimiter({ store, keyPrefix });
    limiters.push(limiter);
    await ready(client);
    return { limiter, calls: store.calls };
  }

  function uniquePrefix(): string {
    const prefix = `gatehouse-test:rate-limit:${randomUUID()}`;
    prefixes.push(prefix);
    return prefix;
  }

  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  }

  afterEach(async () => {
    await Promise.all(limiters.splice(0).map((limiter) => limiter.close()));
  });

  afterAll(async () => {
    const keys = (await Promise.all(prefixes.map((prefix) => keysUnder(prefix)))).flat();
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('lets two replicas together admit exactly limit + burst for one key under concurrent requests', async () => {
    const prefix = uniquePrefix();
    const [first, second] = await Promise.all([replica(prefix), replica(prefix)]);
    const key = randomUUID();

    const decisions: RateLimitDecision[] = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? first : second).consume('api', key, RULE)),
    );

    const admitted = decisions.filter((decision) => decision.allowed);
    expect(admitted).toHaveLength(RULE.limit + RULE.burst);
    expect(decisions.every((decision) => decision.store === 'shared')).toBe(true);
    // One counter for both: each of the first ten saw a distinct remaining count, the burst saw 0.
    expect(admitted.map((decision) => decision.remaining).sort((a, b) => a - b)).toEqual([
      ...Array(6).fill(0),
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
    ]);
    for (const refused of decisions.filter((decision) => !decision.allowed)) {
      expect(refused.remaining).toBe(0);
      expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    }
    expect(first.currentStore).toBe('shared');
    expect(second.currentStore).toBe('shared');
  });

  it('lets two replicas with leases together admit at most limit + burst under 3000 concurrent requests', async () => {
    const prefix = uniquePrefix();
    const [first, second] = await Promise.all([countingReplica(prefix), countingReplica(prefix)]);
    const key = randomUUID();

    const decisions = await Promise.all(
      Array.from({ length: 3000 }, (_, i) =>
        (i % 2 === 0 ? first : second).limiter.consume('api', key, LEASED_RULE),
      ),
    );

    const admitted = decisions.filter((decision) => decision.allowed).length;
    expect(admitted).toBeLessThanOrEqual(LEASED_RULE.limit + LEASED_RULE.burst);
    // The bound on what leases lose here. Every request is sent at once and a replica acquires again only once
    // its lease is used up, so no replica is left holding units when the budget runs out. What remains is the
    // acquisitions of n (sized on what a replica last saw) that find fewer than n left on a counter: those points
    // are counted all the same. Only one call can push a counter past its points, so that is fewer than n once on
    // the main and once on the burst counter, whatever the number of replicas.
    expect(admitted).toBeGreaterThanOrEqual(LEASED_RULE.limit + LEASED_RULE.burst - 2 * (LEASE_SIZE - 1));
    expect(decisions.every((decision) => decision.store === 'shared')).toBe(true);
    for (const decision of decisions.filter((d) => d.allowed))
      expect(decision.remaining).toBeLessThanOrEqual(LEASED_RULE.limit - 1);
    for (const refused of decisions.filter((decision) => !decision.allowed)) {
      expect(refused).toMatchObject({ remaining: 0, retryAfterSeconds: expect.any(Number) });
      expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    }
    // The admitted ones cost about one call per lease; each refused one still costs its own call.
    const leases = [...first.calls, ...second.calls].filter((points) => points === LEASE_SIZE).length;
    expect(leases).toBeLessThanOrEqual(Math.ceil(admitted / LEASE_SIZE) + 2);
  });

  it('counts a lease in Redis before admitting from it, one Redis call per lease', async () => {
    const prefix = uniquePrefix();
    const [first, second] = await Promise.all([countingReplica(prefix), countingReplica(prefix)]);
    const key = randomUUID();

    const decisions = await Promise.all(
      Array.from({ length: 900 }, (_, i) =>
        (i % 2 === 0 ? first : second).limiter.consume('api', key, LEASED_RULE),
      ),
    );

    expect(decisions.every((decision) => decision.allowed && decision.store === 'shared')).toBe(true);
    // 450 requests each, all at once: they share one acquisition at a time, 11 units each.
    const perReplica = Array(Math.ceil(450 / LEASE_SIZE)).fill(LEASE_SIZE);
    expect(first.calls).toEqual(perReplica);
    expect(second.calls).toEqual(perReplica);
    const [main] = (await keysUnder(prefix)).filter((stored) => stored.includes(':main:'));
    // Both replicas' leases, the units not admitted yet included.
    await expect(admin.get(main)).resolves.toBe(String(2 * perReplica.length * LEASE_SIZE));
  });

  it('announces a reset time in the future and within the window', async () => {
    const limiter = await replica(uniquePrefix());
    const before = Date.now();

    const decision = await limiter.consume('api', randomUUID(), RULE);

    expect(decision).toMatchObject({ allowed: true, limit: 10, remaining: 9, store: 'shared' });
    expect(decision.resetSeconds * 1000).toBeGreaterThan(before);
    expect(decision.resetSeconds).toBeLessThanOrEqual(Math.ceil((Date.now() + 60_000) / 1000));
  });

  it('shares failure counts and blocks between replicas, and checking counts nothing', async () => {
    const prefix = uniquePrefix();
    const [first, second] = await Promise.all([replica(prefix), replica(prefix)]);
    const ip = '203.0.113.7';

    for (let i = 0; i < 5; i++) await first.checkFailures('failed_attempts', ip, FAILURES);
    const tolerated = [
      await first.recordFailure('failed_attempts', ip, FAILURES),
      await second.recordFailure('failed_attempts', ip, FAILURES),
      await first.recordFailure('failed_attempts', ip, FAILURES),
    ];
    expect(tolerated.map((decision) => [decision.allowed, decision.remaining, decision.store])).toEqual([
      [true, 2, 'shared'],
      [true, 1, 'shared'],
      [true, 0, 'shared'],
    ]);
    await expect(second.checkFailures('failed_attempts', ip, FAILURES)).resolves.toMatchObject({
      allowed: true,
    });

    const blocking = await second.recordFailure('failed_attempts', ip, FAILURES);
    expect(blocking).toMatchObject({ allowed: false, retryAfterSeconds: 120, store: 'shared' });

    const check = await first.checkFailures('failed_attempts', ip, FAILURES);
    expect(check).toMatchObject({ allowed: false, remaining: 0, store: 'shared' });
    expect(check.retryAfterSeconds).toBeGreaterThanOrEqual(119);
    expect(check.retryAfterSeconds).toBeLessThanOrEqual(120);
  });

  it('keeps deployments with different key prefixes apart, and writes only under its prefix', async () => {
    const prefix = uniquePrefix();
    const [mine, theirs] = await Promise.all([replica(prefix), replica(uniquePrefix())]);
    const key = randomUUID();

    for (let i = 0; i < RULE.limit + RULE.burst + 1; i++) await mine.consume('api', key, RULE);

    await expect(theirs.consume('api', key, RULE)).resolves.toMatchObject({ allowed: true, remaining: 9 });
    const keys = await keysUnder(prefix);
    // The main and the burst counter of this one key, nothing else.
    expect(keys).toHaveLength(2);
    expect(keys.every((stored) => stored.endsWith(`:${key}`))).toBe(true);
  });

  it('configures its client to fail fast and keep reconnecting with a capped delay', async () => {
    const client = createRateLimitRedisClient(TEST_REDIS_URL, {
      commandTimeoutMs: 150,
      maxReconnectDelayMs: 800,
    });
    try {
      expect(client.options).toMatchObject({
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: 150,
        disconnectTimeout: 150,
        autoResendUnfulfilledCommands: false,
        lazyConnect: false,
      });
      const delays = [1, 2, 5, 100, 10_000].map((attempt) => client.options.retryStrategy?.(attempt));
      expect(delays).toEqual([100, 200, 500, 800, 800]);
      expect(client.listenerCount('error')).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
  });

  it('rejects nonsensical client options', () => {
    expect(() => createRateLimitRedisClient(TEST_REDIS_URL, { commandTimeoutMs: 0 })).toThrow(
      'commandTimeoutMs must be a positive number (got 0)',
    );
  });
});
