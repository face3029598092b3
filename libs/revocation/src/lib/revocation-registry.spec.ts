import { Logger } from '@nestjs/common';
import type { Clock, RevocationEvent } from '@gatehouse/contracts';
import { RevocationBus, type RevocationHandler } from './revocation-bus';
import { RevocationRegistry, type RevocationSource, type RevokedKey } from './revocation-registry';

const KEY_A = '11111111-1111-4111-8111-111111111111';
const KEY_B = '22222222-2222-4222-8222-222222222222';
const KEY_C = '33333333-3333-4333-8333-333333333333';
const ORG = '0f5d3c4e-1a2b-4c3d-8e9f-001122334455';

const START = new Date('2030-01-01T12:00:00.000Z');
const RETENTION_MS = 60 * 60_000;
const INTERVAL_MS = 5_000;

class FakeClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current.getTime());
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

class FakeBus extends RevocationBus {
  handler: RevocationHandler | undefined;
  onResync: (() => void) | undefined;
  readonly published: RevocationEvent[] = [];
  publishResult = true;
  subscribeCalls = 0;
  closed = false;

  async publish(event: RevocationEvent): Promise<boolean> {
    this.published.push(event);
    return this.publishResult;
  }

  async subscribe(handler: RevocationHandler, onResync: () => void): Promise<void> {
    this.subscribeCalls += 1;
    this.handler = handler;
    this.onResync = onResync;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  deliver(event: RevocationEvent): void {
    if (!this.handler) throw new Error('nobody subscribed');
    this.handler(event);
  }
}

class FakeSource implements RevocationSource {
  rows: RevokedKey[] = [];
  failure: Error | undefined;
  readonly calls: Date[] = [];
  /** When set, the next query waits until `release` is called. */
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  async revokedSince(since: Date): Promise<RevokedKey[]> {
    this.calls.push(since);
    if (this.gate) await this.gate;
    if (this.failure) throw this.failure;
    return this.rows.filter((row) => row.revokedAt.getTime() >= since.getTime());
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = undefined;
    this.open?.();
  }
}

function event(
  apiKeyId: string,
  revokedAt: Date,
  reason: 'revoked' | 'deleted' = 'revoked',
): RevocationEvent {
  return { type: 'key_revoked', apiKeyId, organizationId: ORG, revokedAt: revokedAt.toISOString(), reason };
}

function minutesBefore(minutes: number, from: Date = START): Date {
  return new Date(from.getTime() - minutes * 60_000);
}

describe('RevocationRegistry', () => {
  let clock: FakeClock;
  let bus: FakeBus;
  let source: FakeSource;
  let registry: RevocationRegistry;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    clock = new FakeClock(START);
    bus = new FakeBus();
    source = new FakeSource();
    registry = new RevocationRegistry(source, bus, clock, {
      reconcileIntervalMs: INTERVAL_MS,
      retentionMs: RETENTION_MS,
    });
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await registry.stop();
    warn.mockRestore();
    jest.useRealTimers();
  });

  describe('start', () => {
    it('is not ready and knows no revocation before starting', () => {
      expect(registry.ready).toBe(false);
      expect(registry.size).toBe(0);
      expect(registry.isRevoked(KEY_A)).toBe(false);
    });

    it('subscribes to the bus and reconciles from the source over the retention window', async () => {
      source.rows = [{ apiKeyId: KEY_A, revokedAt: minutesBefore(5) }];

      await registry.start();

      expect(bus.subscribeCalls).toBe(1);
      expect(source.calls).toEqual([new Date(START.getTime() - RETENTION_MS)]);
      expect(registry.isRevoked(KEY_A)).toBe(true);
      expect(registry.ready).toBe(true);
    });

    it('reconciles again every interval until stopped', async () => {
      jest.useFakeTimers();
      await registry.start();
      expect(source.calls).toHaveLength(1);

      jest.advanceTimersByTime(INTERVAL_MS - 1);
      expect(source.calls).toHaveLength(1);
      jest.advanceTimersByTime(1);
      expect(source.calls).toHaveLength(2);
      await registry.reconcile(); // let the interval's reconcile settle
      jest.advanceTimersByTime(INTERVAL_MS);
      expect(source.calls).toHaveLength(3);

      await registry.stop();
      expect(bus.closed).toBe(true);
      jest.advanceTimersByTime(10 * INTERVAL_MS);
      expect(source.calls).toHaveLength(3);
    });
  });

  describe('bus events', () => {
    it('mark the key revoked', async () => {
      await registry.start();
      bus.deliver(event(KEY_A, minutesBefore(1)));
      expect(registry.isRevoked(KEY_A)).toBe(true);
      expect(registry.isRevoked(KEY_B)).toBe(false);
      expect(registry.size).toBe(1);
    });

    it('call each onRevoked listener once per key, even when the event is repeated', async () => {
      const first = jest.fn();
      const second = jest.fn();
      registry.onRevoked(first);
      registry.onRevoked(second);
      await registry.start();

      bus.deliver(event(KEY_A, minutesBefore(1)));
      bus.deliver(event(KEY_A, minutesBefore(1), 'deleted'));

      expect(first).toHaveBeenCalledTimes(1);
      expect(first).toHaveBeenCalledWith(KEY_A);
      expect(second).toHaveBeenCalledTimes(1);
    });

    it('do not notify again when the source later reports the same key', async () => {
      const listener = jest.fn();
      registry.onRevoked(listener);
      await registry.start();
      bus.deliver(event(KEY_A, minutesBefore(1)));

      source.rows = [{ apiKeyId: KEY_A, revokedAt: minutesBefore(1) }];
      await registry.reconcile();

      expect(listener).toHaveBeenCalledTimes(1);
    });
  });

  describe('reconcile', () => {
    it('adds the keys the source reports and notifies listeners of each new one', async () => {
      const listener = jest.fn();
      registry.onRevoked(listener);
      await registry.start();
      expect(registry.size).toBe(0);

      source.rows = [
        { apiKeyId: KEY_A, revokedAt: minutesBefore(2) },
        { apiKeyId: KEY_B, revokedAt: minutesBefore(3) },
      ];
      await registry.reconcile();

      expect(registry.isRevoked(KEY_A)).toBe(true);
      expect(registry.isRevoked(KEY_B)).toBe(true);
      expect(registry.size).toBe(2);
      expect(listener.mock.calls).toEqual([[KEY_A], [KEY_B]]);
    });

    it('prunes entries older than the retention window', async () => {
      await registry.start();
      bus.deliver(event(KEY_A, minutesBefore(61)));
      bus.deliver(event(KEY_B, new Date(START.getTime() - RETENTION_MS)));
      bus.deliver(event(KEY_C, minutesBefore(1)));
      expect(registry.size).toBe(3);

      await registry.reconcile();

      expect(registry.isRevoked(KEY_A)).toBe(false);
      expect(registry.isRevoked(KEY_B)).toBe(true); // exactly at the boundary: still remembered
      expect(registry.isRevoked(KEY_C)).toBe(true);
      expect(registry.size).toBe(2);
    });

    it('forgets a revocation once the clock has moved past its retention', async () => {
      source.rows = [{ apiKeyId: KEY_A, revokedAt: minutesBefore(1) }];
      await registry.start();
      expect(registry.isRevoked(KEY_A)).toBe(true);

      clock.advance(RETENTION_MS);
      await registry.reconcile();

      expect(registry.isRevoked(KEY_A)).toBe(false);
      expect(source.calls[1]).toEqual(START);
    });

    it('keeps the previous set and does not throw when the source fails', async () => {
      source.rows = [{ apiKeyId: KEY_A, revokedAt: minutesBefore(1) }];
      await registry.start();
      bus.deliver(event(KEY_B, minutesBefore(90))); // would be pruned by a successful reconcile

      source.failure = new Error('connection refused');
      await expect(registry.reconcile()).resolves.toBeUndefined();

      expect(registry.isRevoked(KEY_A)).toBe(true);
      expect(registry.isRevoked(KEY_B)).toBe(true);
      expect(registry.ready).toBe(true);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('connection refused'));
    });

    it('becomes ready only after the first successful reconcile', async () => {
      source.failure = new Error('database is starting');
      await expect(registry.start()).resolves.toBeUndefined();
      expect(registry.ready).toBe(false);

      source.failure = undefined;
      await registry.reconcile();
      expect(registry.ready).toBe(true);
    });

    it('shares one query between concurrent calls', async () => {
      await registry.start();
      source.hold();
      source.rows = [{ apiKeyId: KEY_A, revokedAt: minutesBefore(1) }];

      const first = registry.reconcile();
      const second = registry.reconcile();
      expect(second).toBe(first);
      source.release();
      await Promise.all([first, second]);

      expect(source.calls).toHaveLength(2); // start + one shared
      expect(registry.isRevoked(KEY_A)).toBe(true);

      await registry.reconcile();
      expect(source.calls).toHaveLength(3);
    });

    it('runs when the bus reports that messages may have been missed', async () => {
      await registry.start();
      expect(source.calls).toHaveLength(1);
      source.rows = [{ apiKeyId: KEY_C, revokedAt: minutesBefore(1) }];

      source.hold();

      bus.onResync?.();
      expect(source.calls).toHaveLength(2); // the resync itself queried the source
      source.release();
      await registry.reconcile(); // joins the reconcile triggered by the resync

      expect(source.calls).toHaveLength(2);
      expect(registry.isRevoked(KEY_C)).toBe(true);
    });
  });

  describe('revoke', () => {
    it('applies the revocation locally and publishes it', async () => {
      const listener = jest.fn();
      registry.onRevoked(listener);
      await registry.start();
      const revocation = event(KEY_A, minutesBefore(0), 'deleted');

      await expect(registry.revoke(revocation)).resolves.toBe(true);

      expect(registry.isRevoked(KEY_A)).toBe(true);
      expect(listener).toHaveBeenCalledWith(KEY_A);
      expect(bus.published).toEqual([revocation]);
    });

    it('still applies locally when the broadcast fails, and reports the failure', async () => {
      await registry.start();
      bus.publishResult = false;

      await expect(registry.revoke(event(KEY_B, minutesBefore(0)))).resolves.toBe(false);
      expect(registry.isRevoked(KEY_B)).toBe(true);
    });
  });
});
