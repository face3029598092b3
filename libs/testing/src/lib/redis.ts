import { spawn, type ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { TEST_REDIS_URL } from './test-database';
import { freePort } from './free-port';

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

export interface RedisServer {
  url: string;
  port: number;
  /** Kills the server (SIGKILL: an outage, not a shutdown) and resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty, and resolves once it answers PING. */
  restart(): Promise<void>;
}

/**
 * A Redis server of the test's own, for tests that stop it: the shared one at TEST_REDIS_URL serves every other
 * test file running at the same time.
 */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async kill() {
      const running = child;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
    },
    restart: start,
  };
}
