import Redis from 'ioredis';
import { TEST_REDIS_URL } from './test-database';

/**
 * Resolves once Redis counts at least `count` subscribers on `channel`. Subscribing is asynchronous by design
 * (start-up never waits for Redis), so a test that publishes must first wait for this.
 */
export async function waitForSubscribers(channel: string, count = 1, timeoutMs = 5000): Promise<void> {
  const client = new Redis(TEST_REDIS_URL);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [, subscribers] = (await client.pubsub('NUMSUB', channel)) as [string, number];
      if (Number(subscribers) >= count) return;
      if (Date.now() > deadline)
        throw new Error(`no ${count} subscriber(s) on ${channel} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    client.disconnect();
  }
}
