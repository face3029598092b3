import { Logger } from '@nestjs/common';
import type { KeyRevokedEvent, RateLimitChangedEvent, KeyEvent } from '@gatehouse/contracts';
import { InProcessKeyEventBus } from './in-process-key-event-bus';
import { createKeyEventBus } from './revocation.module';

const EVENT: KeyRevokedEvent = {
  type: 'key_revoked',
  apiKeyId: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
  organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
  revokedAt: '2030-01-01T12:00:00.000Z',
  reason: 'revoked',
};

describe('InProcessKeyEventBus', () => {
  const buses: InProcessKeyEventBus[] = [];
  let warn: jest.SpyInstance;
  const bus = (channel = 'test:revocations') => {
    const created = new InProcessKeyEventBus({ channel });
    buses.push(created);
    return created;
  };

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((created) => created.close()));
    warn.mockRestore();
  });

  it('delivers a publish to every subscriber of the channel, the publisher included, before resolving', async () => {
    const [admin, findings, auth] = [bus(), bus(), bus()];
    const received: Record<string, KeyEvent[]> = { admin: [], findings: [], auth: [] };
    await admin.subscribe((event) => received['admin'].push(event), jest.fn());
    await findings.subscribe((event) => received['findings'].push(event), jest.fn());
    await auth.subscribe((event) => received['auth'].push(event), jest.fn());

    await expect(admin.publish(EVENT)).resolves.toBe(true);

    expect(received).toEqual({ admin: [EVENT], findings: [EVENT], auth: [EVENT] });
    // Each subscriber gets its own copy, as over the network.
    expect(received['findings'][0]).not.toBe(received['auth'][0]);
  });

  it('carries rate limit changes on the same channel, as in the standalone suite', async () => {
    const [admin, gateway] = [bus(), bus()];
    const received: KeyEvent[] = [];
    await gateway.subscribe((event) => received.push(event), jest.fn());
    const change: RateLimitChangedEvent = {
      type: 'rate_limit_changed',
      apiKeyId: EVENT.apiKeyId,
      organizationId: EVENT.organizationId,
      requestsPerMinute: 300,
      burst: 50,
      source: 'plan',
      changedAt: '2030-01-01T12:00:00.000Z',
    };

    await expect(admin.publish(change)).resolves.toBe(true);

    expect(received).toEqual([change]);
  });

  it('keeps channels apart and stops delivering once closed', async () => {
    const [publisher, sameChannel, otherChannel] = [bus(), bus(), bus('other:revocations')];
    const same = jest.fn();
    const other = jest.fn();
    await sameChannel.subscribe(same, jest.fn());
    await otherChannel.subscribe(other, jest.fn());

    await publisher.publish(EVENT);
    await sameChannel.close();
    await publisher.publish(EVENT);

    expect(same).toHaveBeenCalledTimes(1);
    expect(other).not.toHaveBeenCalled();
  });

  it('never lets a failing subscriber stop the others or the publisher', async () => {
    const [publisher, failing, healthy] = [bus(), bus(), bus()];
    const delivered = jest.fn();
    await failing.subscribe(() => {
      throw new Error('boom');
    }, jest.fn());
    await healthy.subscribe(delivered, jest.fn());

    await expect(publisher.publish(EVENT)).resolves.toBe(true);
    expect(delivered).toHaveBeenCalledWith(EVENT);
    expect(warn).toHaveBeenCalledWith('a revocation subscriber failed: boom');
  });

  it('drops what does not parse as an event, like the Redis bus', async () => {
    const [publisher, subscriber] = [bus(), bus()];
    const handler = jest.fn();
    await subscriber.subscribe(handler, jest.fn());

    await publisher.publish({ ...EVENT, apiKeyId: 'not-a-uuid' });

    expect(handler).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledWith('ignored a malformed revocation message');
  });

  it('is shared through globalThis, so that every app bundle of the process reaches the same channels', async () => {
    const subscriber = bus();
    const handler = jest.fn();
    await subscriber.subscribe(handler, jest.fn());
    const channels = (globalThis as Record<symbol, Map<string, Set<unknown>>>)[
      Symbol.for('gatehouse.revocation.in-process-channels')
    ];
    expect(channels.get('test:revocations')?.size).toBe(1);
  });
});

describe('createKeyEventBus', () => {
  const base = { channel: 'c', reconcileIntervalMs: 1000, clockToleranceSeconds: 5 };

  it('builds the transport the configuration names, whatever this process holds', async () => {
    const bus = createKeyEventBus({ ...base, transport: 'in-process' });
    expect(bus).toBeInstanceOf(InProcessKeyEventBus);
    await bus.close();
  });

  it('refuses the Redis transport without a Redis connection instead of guessing another', () => {
    expect(() => createKeyEventBus({ ...base, transport: 'redis' })).toThrow(
      'the Redis key-event bus needs a Redis connection',
    );
  });
});
