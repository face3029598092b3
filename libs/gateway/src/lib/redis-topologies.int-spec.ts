import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '@gatehouse/config';
import type { KeyRevokedEvent, KeyEvent } from '@gatehouse/contracts';
import {
  createRateLimitRedisClient,
  RateLimiter,
  RedisRateLimitStore,
  type RateLimitDecision,
  type RateLimitRule,
} from '@gatehouse/rate-limit';
import { RedisKeyEventBus } from '@gatehouse/revocation';
import {
  startRedisCluster,
  startRedisSentinel,
  type RedisClusterUnderTest,
  type RedisSentinelUnderTest,
} from '@gatehouse/testing';

/**
 * The gateway's two uses of Redis — limits shared by its replicas, revocations heard on every node — on the
 * multi-node setups REDIS_MODE offers, each started from Debian's redis-server on private ports.
 */
const RULE: RateLimitRule = { limit: 10, burst: 5, windowSeconds: 60 };

function revoked(apiKeyId: string): KeyRevokedEvent {
  return {
    type: 'key_revoked',
    apiKeyId,
    organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
    revokedAt: '2030-01-01T12:00:00.000Z',
    reason: 'revoked',
  };
}

async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A deployment's nodes on one Redis: gateway replicas (limiters) and nodes listening to the bus. */
function deployment(connection: RedisConnection) {
  const limiters: RateLimiter[] = [];
  const buses: RedisKeyEventBus[] = [];
  const keyPrefix = `gatehouse-test:topology:${randomUUID()}`;
  const channel = `gatehouse-test:topology:${randomUUID()}`;
  return {
    replica(): RateLimiter {
      const limiter = new RateLimiter({
        store: new RedisRateLimitStore(createRateLimitRedisClient(connection, { commandTimeoutMs: 1000 })),
        keyPrefix,
      });
      limiters.push(limiter);
      return limiter;
    },
    async listener(): Promise<{ bus: RedisKeyEventBus; received: KeyEvent[]; resyncs: number }> {
      const bus = new RedisKeyEventBus({ redis: connection, channel });
      buses.push(bus);
      const node = { bus, received: [] as KeyEvent[], resyncs: 0 };
      await bus.subscribe(
        (event) => node.received.push(event),
        () => (node.resyncs += 1),
      );
      return node;
    },
    /** Publishes from `from` until every listener heard it (a subscription is asynchronous by design). */
    async broadcast(from: RedisKeyEventBus, listeners: { received: KeyEvent[] }[]): Promise<string> {
      const apiKeyId = randomUUID();
      await eventually(async () => {
        await from.publish(revoked(apiKeyId));
        await new Promise((resolve) => setTimeout(resolve, 100));
        return listeners.every((node) => node.received.some((event) => event.apiKeyId === apiKeyId));
      }, 'every node to hear the revocation');
      return apiKeyId;
    },
    async close() {
      await Promise.all([...limiters.map((limiter) => limiter.close()), ...buses.map((bus) => bus.close())]);
    },
  };
}

/** `count` requests for `key`, alternating between the replicas, all at once. */
async function hammer(replicas: RateLimiter[], key: string, count: number): Promise<RateLimitDecision[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => replicas[i % replicas.length].consume('api', key, RULE)),
  );
}

async function sharedOnceConnected(replica: RateLimiter): Promise<void> {
  await eventually(
    async () => (await replica.checkFailures('failed_attempts', randomUUID(), FAILURES)).store === 'shared',
    'the replica deciding on Redis',
  );
}
const FAILURES = { maxFailures: 3, windowSeconds: 60, blockSeconds: 60 };

/** A bus's connections as `gatehouse_redis_connected` reads them. */
const connections = (bus: RedisKeyEventBus) =>
  Object.fromEntries(bus.redisConnections().map(({ client, connected }) => [client, connected()]));
const BOTH_CONNECTED = { revocation_publisher: true, revocation_subscriber: true };

describe('REDIS_MODE=cluster: three primaries', () => {
  let cluster: RedisClusterUnderTest;
  let nodes: ReturnType<typeof deployment>;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    nodes = deployment({ mode: 'cluster', nodes: cluster.nodes, tls: false });
  }, 60_000);

  afterAll(async () => {
    await nodes?.close();
    await cluster?.stop();
  });

  it('lets two gateway replicas together admit exactly limit + burst per key, for keys on every shard', async () => {
    const replicas = [nodes.replica(), nodes.replica()];
    for (const replica of replicas) await sharedOnceConnected(replica);
    // Enough keys that their slots fall on all three primaries.
    for (let k = 0; k < 6; k++) {
      const decisions = await hammer(replicas, randomUUID(), 40);
      expect(decisions.filter((decision) => decision.allowed)).toHaveLength(RULE.limit + RULE.burst);
      expect(decisions.every((decision) => decision.store === 'shared')).toBe(true);
    }
  });

  it('carries a revocation to every node over a sharded channel', async () => {
    const [publisher, first, second] = [
      await nodes.listener(),
      await nodes.listener(),
      await nodes.listener(),
    ];
    await nodes.broadcast(publisher.bus, [first, second, publisher]);
    // What gatehouse_redis_connected reports: a cluster client is connected once its topology is ready.
    for (const node of [publisher, first, second]) expect(connections(node.bus)).toEqual(BOTH_CONNECTED);
  });
});

describe('REDIS_MODE=sentinel: a primary, a replica and a Sentinel', () => {
  let topology: RedisSentinelUnderTest;
  let nodes: ReturnType<typeof deployment>;

  beforeAll(async () => {
    topology = await startRedisSentinel();
    nodes = deployment({ mode: 'sentinel', sentinels: topology.sentinels, name: topology.name, tls: false });
  }, 60_000);

  afterAll(async () => {
    await nodes?.close();
    await topology?.stop();
  });

  it('survives a failover (the primary killed): limits still shared and counted, revocations still heard', async () => {
    const replicas = [nodes.replica(), nodes.replica()];
    for (const replica of replicas) await sharedOnceConnected(replica);
    const [publisher, listener] = [await nodes.listener(), await nodes.listener()];
    await nodes.broadcast(publisher.bus, [listener]);

    // Before: 8 of the key's 15 used, on the primary (and replicated).
    const key = randomUUID();
    const before = await hammer(replicas, key, 8);
    expect(before.every((decision) => decision.allowed && decision.store === 'shared')).toBe(true);

    const { from, to } = await topology.failover();
    expect(to).not.toBe(from);

    // The clients find the promoted primary through the Sentinel by themselves.
    for (const replica of replicas) await sharedOnceConnected(replica);
    const after = await hammer(replicas, key, 20);
    expect(after.every((decision) => decision.store === 'shared')).toBe(true);
    // Nothing lost: what was counted before the failover still counts.
    expect(after.filter((decision) => decision.allowed)).toHaveLength(RULE.limit + RULE.burst - 8);
    // The subscriber reconnected, asked for a resync, and hears revocations again.
    await eventually(() => listener.resyncs >= 2, 'the resync after the reconnect');
    await nodes.broadcast(publisher.bus, [listener]);
    for (const node of [publisher, listener]) expect(connections(node.bus)).toEqual(BOTH_CONNECTED);
  }, 60_000);
});
