import { once } from 'node:events';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import type { KeyEvent, KeyRevokedEvent } from '@gatehouse/contracts';
import { TEST_REDIS_URL, uniqueChannel, waitForSubscribers } from '@gatehouse/testing';
import { RedisKeyEventBus } from './redis-key-event-bus';

const POLL_TIMEOUT_MS = 5_000;
const POLL_INTERVAL_MS = 10;

function event(apiKeyId: string, reason: KeyRevokedEvent['reason'] = 'revoked'): KeyEvent {
  return {
    type: 'key_revoked',
    apiKeyId,
    organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
    revokedAt: '2030-01-01T12:00:00.000Z',
    reason,
  };
}

/** Bounded polling for asynchronous delivery: resolves as soon as `check` holds, fails after the timeout. */
async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${POLL_TIMEOUT_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/** The publisher connects in the background and, without an offline queue, refuses commands until then. */
async function publisherReady(bus: RedisKeyEventBus): Promise<void> {
  const publisher = bus['publisher'];
  if (publisher.status !== 'ready') await once(publisher, 'ready');
}

interface Listener {
  received: KeyEvent[];
  resyncs: number;
}

describe('RedisKeyEventBus (Redis)', () => {
  const buses: RedisKeyEventBus[] = [];
  const clients: Redis[] = [];
  let warn: jest.SpyInstance;

  function newBus(channel: string, url = TEST_REDIS_URL): RedisKeyEventBus {
    const bus = new RedisKeyEventBus({ redis: url, channel });
    buses.push(bus);
    return bus;
  }

  async function listen(bus: RedisKeyEventBus): Promise<Listener> {
    const listener: Listener = { received: [], resyncs: 0 };
    await bus.subscribe(
      (received) => listener.received.push(received),
      () => (listener.resyncs += 1),
    );
    await waitForSubscribers(bus['options'].channel);
    return listener;
  }

  function rawClient(): Redis {
    const client = new Redis(TEST_REDIS_URL);
    clients.push(client);
    return client;
  }

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
    for (const client of clients.splice(0)) client.disconnect();
    warn.mockRestore();
  });

  it('delivers an event published on one instance to another on the same channel', async () => {
    const channel = uniqueChannel();
    const sender = newBus(channel);
    const receiver = newBus(channel);
    const listener = await listen(receiver);
    await publisherReady(sender);

    const sent = event('7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff');
    await expect(sender.publish(sent)).resolves.toBe(true);

    await waitFor(() => listener.received.length > 0, 'the event');
    expect(listener.received).toEqual([sent]);
    // The first connection counts as a resync too: nothing guarantees it came before every revocation.
    expect(listener.resyncs).toBe(1);
  });

  it('does not deliver events from another channel', async () => {
    const channel = uniqueChannel();
    const other = newBus(uniqueChannel());
    const sender = newBus(channel);
    const receiver = newBus(channel);
    const listener = await listen(receiver);
    await Promise.all([publisherReady(other), publisherReady(sender)]);

    await expect(other.publish(event('11111111-1111-4111-8111-111111111111'))).resolves.toBe(true);
    const mine = event('22222222-2222-4222-8222-222222222222');
    await expect(sender.publish(mine)).resolves.toBe(true);

    // Redis delivers one connection's messages in order; once ours arrived, the other would have too.
    await waitFor(() => listener.received.length > 0, 'the event on our channel');
    expect(listener.received).toEqual([mine]);
  });

  it('ignores a malformed message and keeps delivering valid ones', async () => {
    const channel = uniqueChannel();
    const receiver = newBus(channel);
    const listener = await listen(receiver);
    const raw = rawClient();

    await raw.publish(channel, 'not json');
    await raw.publish(channel, JSON.stringify(event('not-a-uuid')));
    await raw.publish(channel, JSON.stringify({ type: 'key_restored' }));
    const valid = event('33333333-3333-4333-8333-333333333333', 'deleted');
    await raw.publish(channel, JSON.stringify(valid));

    await waitFor(() => listener.received.length > 0, 'the valid event');
    expect(listener.received).toEqual([valid]);
    expect(
      warn.mock.calls.filter(([message]) => message === 'ignored a malformed revocation message'),
    ).toHaveLength(3);
  });

  it('reports its connections for gatehouse_redis_connected: down until made, up once ready, down when closed', async () => {
    const bus = newBus(uniqueChannel());
    const states = () =>
      Object.fromEntries(bus.redisConnections().map(({ client, connected }) => [client, connected()]));
    expect(states()).toMatchObject({ revocation_subscriber: false });
    await publisherReady(bus);
    await listen(bus);
    expect(states()).toEqual({ revocation_publisher: true, revocation_subscriber: true });
    await bus.close();
    await waitFor(() => Object.values(states()).every((up) => !up), 'both connections down after close');
  });

  it('reports both connections down while Redis is unreachable', async () => {
    const bus = newBus(uniqueChannel(), 'redis://127.0.0.1:1');
    await bus.subscribe(
      () => undefined,
      () => undefined,
    );
    await once(bus['subscriber']!, 'error');
    expect(bus.redisConnections().map(({ connected }) => connected())).toEqual([false, false]);
  });

  it('re-subscribes after the connection drops, asks for a resync and keeps delivering', async () => {
    const channel = uniqueChannel();
    const receiver = newBus(channel);
    const listener = await listen(receiver);
    const subscriber = receiver['subscriber'] as Redis;
    const admin = rawClient();

    // Kill exactly this subscriber's connection: other test files use the same connection name.
    const address = `${subscriber.stream.localAddress}:${subscriber.stream.localPort}`;
    await expect(admin.client('KILL', 'ADDR', address)).resolves.toBe(1);

    // onResync fires on the new connection's 'ready'; ioredis then re-subscribes to the channel by itself.
    await waitFor(() => listener.resyncs === 2, 'the resync after the reconnect');
    const sent = event('44444444-4444-4444-8444-444444444444');
    let delivered = false;
    const deadline = Date.now() + POLL_TIMEOUT_MS;
    while (!delivered && Date.now() < deadline) {
      // Re-subscription completes shortly after 'ready'; publish until the channel counts a subscriber.
      delivered = (await admin.publish(channel, JSON.stringify(sent))) > 0;
      if (!delivered) await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
    expect(delivered).toBe(true);
    await waitFor(() => listener.received.length > 0, 'the event after the reconnect');
    expect(listener.received[0]).toEqual(sent);
  });

  it('broadcasts a publish issued while the connection is still coming up, instead of dropping it', async () => {
    const channel = uniqueChannel();
    const listener = await listen(newBus(channel));
    const bus = newBus(channel);
    expect(bus['publisher'].status).not.toBe('ready');
    const sent = event('55555555-5555-4555-8555-555555555555');

    await expect(bus.publish(sent)).resolves.toBe(true);
    await waitFor(() => listener.received.length > 0, 'the event published during the connection');
    expect(listener.received).toEqual([sent]);
  });

  it('resolves false quickly and does not throw when Redis is unreachable', async () => {
    const bus = newBus(uniqueChannel(), 'redis://127.0.0.1:1');
    const started = Date.now();

    await expect(bus.publish(event('66666666-6666-4666-8666-666666666666'))).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('not broadcast'));

    // Still false, still fast, once the connection attempt has actually failed.
    await once(bus['publisher'], 'error');
    const again = Date.now();
    await expect(bus.publish(event('66666666-6666-4666-8666-666666666666'))).resolves.toBe(false);
    expect(Date.now() - again).toBeLessThan(1_000);
  });

  it('subscribes without throwing when Redis is unreachable, and gives the pending subscription up on close', async () => {
    const bus = newBus(uniqueChannel(), 'redis://127.0.0.1:1');
    await expect(
      bus.subscribe(
        () => undefined,
        () => undefined,
      ),
    ).resolves.toBeUndefined();
    await once(bus['subscriber']!, 'error');
    await bus.close();
    await waitFor(
      () => warn.mock.calls.some(([message]) => String(message).includes('not subscribed')),
      'the warning about the abandoned subscription',
    );
  });

  // Start-up must not wait for Redis: RevocationRegistry.start(), hence Nest's start-up, awaits subscribe().
  it('returns from subscribe promptly while Redis is unreachable', async () => {
    const bus = newBus(uniqueChannel(), 'redis://127.0.0.1:1');
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      bus
        .subscribe(
          () => undefined,
          () => undefined,
        )
        .then(() => 'returned'),
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting'), 1_000))),
    ]);
    clearTimeout(timer);
    expect(outcome).toBe('returned');
  });
});
