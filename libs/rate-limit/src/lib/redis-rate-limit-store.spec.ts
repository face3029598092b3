import Redis, { type RedisOptions } from 'ioredis';
import { RedisRateLimitStore } from './redis-rate-limit-store';

describe('RedisRateLimitStore', () => {
  const clients: Redis[] = [];

  // lazyConnect: these clients are only inspected, never connected.
  function client(options: RedisOptions): Redis {
    const created = new Redis({ lazyConnect: true, ...options });
    clients.push(created);
    return created;
  }

  afterEach(() => {
    for (const created of clients.splice(0)) created.disconnect();
  });

  it.each([
    ['queues commands while offline', { commandTimeout: 100 }],
    ['has no command timeout', { enableOfflineQueue: false }],
  ])('refuses a client that %s, since requests would wait on an unreachable Redis', (_, options) => {
    expect(() => new RedisRateLimitStore(client(options))).toThrow(/fail-fast Redis client/);
  });

  it('accepts a fail-fast client and disconnects it on close', async () => {
    const redis = client({ enableOfflineQueue: false, commandTimeout: 100 });
    const store = new RedisRateLimitStore(redis);
    expect(store.kind).toBe('shared');

    await store.close();

    expect(redis.status).toBe('end');
  });
});
