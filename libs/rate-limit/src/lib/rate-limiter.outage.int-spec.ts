import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import Redis from 'ioredis';
import { freePort } from '@gatehouse/testing';
import type { RateLimitDecision, RateLimitRule, RateLimitStoreKind } from './rate-limit-rule';
import { RateLimiter } from './rate-limiter';
import { createRateLimitRedisClient, RedisRateLimitStore } from './redis-rate-limit-store';

// Jest fails a test on any unhandled rejection or uncaught exception (an 'error' event nobody listens to
// included), so every test here also checks that an outage raises neither.

const RULE: RateLimitRule = { limit: 3, burst: 2, windowSeconds: 60 };
const COMMAND_TIMEOUT_MS = 200;
/** A decision taken while Redis is down or stalled must come well under a second. */
const FAST_MS = 600;
const RECOVERY_TIMEOUT_MS = 10_000;

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Bounded polling: resolves as soon as `check` holds. */
async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Whether a Redis answers PING on `port`, asked with a one-shot client that never retries. */
async function answers(port: number): Promise<boolean> {
  const probe = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    // After a refused connection the client has ended already; disconnecting again would arm a 2 s timer.
    if (probe.status !== 'end') probe.disconnect();
  }
}

/** A real redis-server of our own, which the tests kill, stall and restart on the same port. */
class RedisProcess {
  private child: ChildProcess | undefined;

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
      { stdio: 'ignore' },
    );
    this.child = child;
    let exited = false;
    child.once('exit', () => (exited = true));
    child.once('error', () => (exited = true));
    const deadline = Date.now() + 5_000;
    while (!(await answers(this.port))) {
      if (exited) throw new Error(`redis-server on port ${this.port} exited before answering`);
      if (Date.now() > deadline)
        throw new Error(`redis-server on port ${this.port} did not answer within 5 s`);
      await sleep(20);
    }
  }

  /** Like a crash: no shutdown, connections reset. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** Connections stay open but nothing is answered: commands can only time out. */
  stall(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }
}

interface Replica {
  limiter: RateLimiter;
  client: Redis;
  storeChanges: Array<[RateLimitStoreKind, unknown]>;
  errorEvents: number;
}

describe('RateLimiter while Redis goes down and comes back', () => {
  let redis: RedisProcess;
  const replicas: Replica[] = [];

  function newReplica(): Replica {
    const client = createRateLimitRedisClient(redis.url, {
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      maxReconnectDelayMs: 250,
    });
    const storeChanges: Replica['storeChanges'] = [];
    const limiter = new RateLimiter({
      store: new RedisRateLimitStore(client),
      keyPrefix: `gatehouse-test:rate-limit-outage:${randomUUID()}`,
      onStoreChange: (store, error) => storeChanges.push([store, error]),
    });
    const replica: Replica = { client, limiter, storeChanges, errorEvents: 0 };
    client.on('error', () => (replica.errorEvents += 1));
    replicas.push(replica);
    return replica;
  }

  async function connected(replica: Replica): Promise<void> {
    if (replica.client.status !== 'ready') await once(replica.client, 'ready');
  }

  /** One decision, failing the test if it took anywhere near a second. */
  async function timedConsume(limiter: RateLimiter, key: string): Promise<RateLimitDecision> {
    const started = performance.now();
    const decision = await limiter.consume('api', key, RULE);
    expect(performance.now() - started).toBeLessThan(FAST_MS);
    return decision;
  }

  /** Polls with real requests until one is decided on Redis again: nothing but traffic drives the return. */
  async function backToShared(limiter: RateLimiter): Promise<RateLimitDecision> {
    const deadline = Date.now() + RECOVERY_TIMEOUT_MS;
    for (;;) {
      const decision = await timedConsume(limiter, `probe-${randomUUID()}`);
      if (decision.store === 'shared') return decision;
      if (Date.now() > deadline)
        throw new Error(`still local ${RECOVERY_TIMEOUT_MS} ms after Redis came back`);
      await sleep(50);
    }
  }

  beforeAll(async () => {
    redis = new RedisProcess(await freePort());
    await redis.start();
  });

  afterEach(async () => {
    await Promise.all(replicas.splice(0).map((replica) => replica.limiter.close()));
    // Every test leaves a running, responsive server for the next one.
    redis.resume();
    if (!(await answers(redis.port))) {
      await redis.kill();
      await redis.start();
    }
  });

  afterAll(async () => {
    await redis.kill();
  });

  it('decides locally and fast while Redis is down, never unlimited, and goes back to Redis by itself', async () => {
    const replica = newReplica();
    await connected(replica);
    await expect(replica.limiter.consume('api', randomUUID(), RULE)).resolves.toMatchObject({
      store: 'shared',
    });

    await redis.kill();
    // Reconnection attempts are refused: the client reports each as an 'error' event, handled.
    const errorsBefore = replica.errorEvents;
    await until(() => replica.errorEvents > errorsBefore, 'a refused reconnection');

    const key = randomUUID();
    const during: RateLimitDecision[] = [];
    for (let i = 0; i < 8; i++) during.push(await timedConsume(replica.limiter, key));
    expect(during.map((decision) => [decision.allowed, decision.store])).toEqual([
      ...Array(5).fill([true, 'local']),
      ...Array(3).fill([false, 'local']),
    ]);
    expect(during[7].retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(replica.limiter.currentStore).toBe('local');
    expect(replica.storeChanges).toEqual([['local', expect.any(Error)]]);

    await redis.start();
    const back = await backToShared(replica.limiter);

    expect(back).toMatchObject({ allowed: true, remaining: 2 });
    expect(replica.storeChanges).toEqual([
      ['local', expect.any(Error)],
      ['shared', undefined],
    ]);
  });

  it('checks and records failures locally while Redis is down', async () => {
    const replica = newReplica();
    await connected(replica);
    const rule = { maxFailures: 2, windowSeconds: 60, blockSeconds: 120 };
    await redis.kill();

    const recorded: RateLimitDecision[] = [];
    for (let i = 0; i < 3; i++)
      recorded.push(await replica.limiter.recordFailure('failed_attempts', 'ip', rule));
    const check = await replica.limiter.checkFailures('failed_attempts', 'ip', rule);

    expect(recorded.map((decision) => [decision.allowed, decision.store])).toEqual([
      [true, 'local'],
      [true, 'local'],
      [false, 'local'],
    ]);
    expect(check).toMatchObject({ allowed: false, store: 'local' });
    expect(check.retryAfterSeconds).toBeGreaterThanOrEqual(119);
  });

  it('does not wait longer than the command timeout while Redis stalls', async () => {
    const replica = newReplica();
    await connected(replica);

    redis.stall();
    const key = randomUUID();
    const stalled = [await timedConsume(replica.limiter, key), await timedConsume(replica.limiter, key)];
    expect(stalled.map((decision) => [decision.allowed, decision.store])).toEqual([
      [true, 'local'],
      [true, 'local'],
    ]);
    expect(replica.storeChanges).toEqual([
      ['local', expect.objectContaining({ message: 'Command timed out' })],
    ]);

    redis.resume();
    await backToShared(replica.limiter);
    expect(replica.storeChanges.at(-1)).toEqual(['shared', undefined]);
  });

  it('decides locally from its first request when Redis is not there at start-up, then moves to Redis', async () => {
    await redis.kill();
    const replica = newReplica();

    const first = await timedConsume(replica.limiter, randomUUID());
    expect(first).toMatchObject({ allowed: true, store: 'local' });

    await redis.start();
    await backToShared(replica.limiter);
    expect(replica.storeChanges.map(([store]) => store)).toEqual(['local', 'shared']);
  });
});
