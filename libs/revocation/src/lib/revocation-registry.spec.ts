import { Logger } from '@nestjs/common';
import type { RateLimitChangedEvent, KeyEvent } from '@gatehouse/contracts';
import { ManualClock } from '@gatehouse/testing';
import { KeyEventBus, type KeyEventHandler } from './key-event-bus';
import {
  RevocationRegistry,
  type DisabledKey,
  type RetiredSecret,
  type RevocationSource,
  type RevokedKey,
} from './revocation-registry';

const KEY_A = '11111111-1111-4111-8111-111111111111';
const KEY_B = '22222222-2222-4222-8222-222222222222';
const KEY_C = '33333333-3333-4333-8333-333333333333';
const ORG = '0f5d3c4e-1a2b-4c3d-8e9f-001122334455';

const START = new Date('2030-01-01T12:00:00.000Z');
const RETENTION_MS = 60 * 60_000;
const INTERVAL_MS = 5_000;

class FakeBus extends KeyEventBus {
  handler: KeyEventHandler | undefined;
  onResync: (() => void) | undefined;
  readonly published: KeyEvent[] = [];
  publishResult = true;
  subscribeCalls = 0;
  closed = false;

  async publish(event: KeyEvent): Promise<boolean> {
    this.published.push(event);
    return this.publishResult;
  }

  async subscribe(handler: KeyEventHandler, onResync: () => void): Promise<void> {
    this.subscribeCalls += 1;
    this.handler = handler;
    this.onResync = onResync;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  deliver(event: KeyEvent): void {
    if (!this.handler) throw new Error('nobody subscribed');
    this.handler(event);
  }
}

class FakeSource implements RevocationSource {
  rows: RevokedKey[] = [];
  retirements: RetiredSecret[] = [];
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

  readonly retiredCalls: Date[] = [];

  async retiredSince(since: Date): Promise<RetiredSecret[]> {
    this.retiredCalls.push(since);
    if (this.failure) throw this.failure;
    return this.retirements.filter((row) => row.retiredAt.getTime() >= since.getTime());
  }

  disabled: DisabledKey[] = [];

  /** What is disabled when the read starts, as PostgreSQL would answer. */
  async disabledKeys(): Promise<DisabledKey[]> {
    const snapshot = [...this.disabled];
    if (this.failure) throw this.failure;
    return Promise.resolve(snapshot);
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = undefined;
    this.open?.();
  }
}

function event(apiKeyId: string, revokedAt: Date, reason: 'revoked' | 'deleted' = 'revoked'): KeyEvent {
  return { type: 'key_revoked', apiKeyId, organizationId: ORG, revokedAt: revokedAt.toISOString(), reason };
}

function retired(apiKeyId: string, currentVersion: number, retiredAt: Date): KeyEvent {
  return {
    type: 'secret_retired',
    apiKeyId,
    organizationId: ORG,
    currentVersion,
    retiredAt: retiredAt.toISOString(),
  };
}

function rateLimitChanged(apiKeyId: string, requestsPerMinute: number, burst: number): RateLimitChangedEvent {
  return {
    type: 'rate_limit_changed',
    apiKeyId,
    organizationId: ORG,
    requestsPerMinute,
    burst,
    source: 'override',
    changedAt: START.toISOString(),
  };
}

function keyState(apiKeyId: string, disabled: boolean, changedAt: Date): KeyEvent {
  return {
    type: disabled ? 'key_disabled' : 'key_enabled',
    apiKeyId,
    organizationId: ORG,
    changedAt: changedAt.toISOString(),
  };
}

function minutesAfter(minutes: number, from: Date = START): Date {
  return new Date(from.getTime() + minutes * 60_000);
}

function minutesBefore(minutes: number, from: Date = START): Date {
  return new Date(from.getTime() - minutes * 60_000);
}

describe('RevocationRegistry', () => {
  let clock: ManualClock;
  let bus: FakeBus;
  let source: FakeSource;
  let registry: RevocationRegistry;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    clock = new ManualClock(START);
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

  describe('retired secrets (rotation)', () => {
    it('refuses versions below the current one only from the retirement on', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 2, minutesAfter(10)));

      expect(registry.isRevoked(KEY_A, 1)).toBe(false);
      clock.advance(10 * 60_000 - 1);
      expect(registry.isRevoked(KEY_A, 1)).toBe(false);
      clock.advance(1);
      expect(registry.isRevoked(KEY_A, 1)).toBe(true);
      clock.advance(60 * 60_000);
      expect(registry.isRevoked(KEY_A, 1)).toBe(true);
    });

    it('never refuses the current version or a newer one, nor other keys', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 3, minutesBefore(1)));

      expect(registry.isRevoked(KEY_A, 2)).toBe(true);
      expect(registry.isRevoked(KEY_A, 1)).toBe(true);
      expect(registry.isRevoked(KEY_A, 3)).toBe(false);
      expect(registry.isRevoked(KEY_A, 4)).toBe(false);
      expect(registry.isRevoked(KEY_B, 1)).toBe(false);
    });

    it('checks only whole-key revocation when no version is given, and does not count retirements as revoked keys', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 2, minutesBefore(1)));

      expect(registry.isRevoked(KEY_A)).toBe(false);
      expect(registry.size).toBe(0);
    });

    it('refuses every version of a revoked key, retired or not', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 2, minutesAfter(60)));
      bus.deliver(event(KEY_A, minutesBefore(0)));

      expect(registry.isRevoked(KEY_A, 1)).toBe(true);
      expect(registry.isRevoked(KEY_A, 2)).toBe(true);
    });

    it('lets a finish (same version, earlier retirement) replace the end of the grace period', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 2, minutesAfter(24 * 60)));
      expect(registry.isRevoked(KEY_A, 1)).toBe(false);

      bus.deliver(retired(KEY_A, 2, START));

      expect(registry.isRevoked(KEY_A, 1)).toBe(true);
    });

    it('ignores a late copy of the rotation start once the rotation was finished', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 2, START)); // finish
      bus.deliver(retired(KEY_A, 2, minutesAfter(24 * 60))); // the start, delivered late

      expect(registry.isRevoked(KEY_A, 1)).toBe(true);
    });

    it('lets a newer rotation replace an older one, and ignores an older one arriving late', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 2, minutesBefore(30)));
      bus.deliver(retired(KEY_A, 3, minutesAfter(60)));

      expect(registry.isRevoked(KEY_A, 2)).toBe(false); // version 2 is in its grace period now
      expect(registry.isRevoked(KEY_A, 3)).toBe(false);

      bus.deliver(retired(KEY_A, 2, minutesBefore(60))); // stale
      expect(registry.isRevoked(KEY_A, 2)).toBe(false);
      clock.advance(60 * 60_000);
      expect(registry.isRevoked(KEY_A, 2)).toBe(true);
      expect(registry.isRevoked(KEY_A, 3)).toBe(false);
    });
    // rotation (2 -> 3, with a grace period) replaces the first one's (1 -> 2, already past) and tokens of
    // version 1 are accepted again until the new grace period ends; the database (previous_retires_at) forgets
    // the first retirement too, so a reconcile cannot restore it. A rotation can only start once the previous
    // one has ended, so every version below currentVersion - 1 is already retired: isRevoked should refuse
    // `keyVersion < currentVersion - 1` unconditionally (or keep the highest already-passed retirement).
    it('keeps refusing a version retired by an earlier rotation when the next rotation starts', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 2, minutesBefore(5))); // rotation 1 -> 2, finished five minutes ago
      expect(registry.isRevoked(KEY_A, 1)).toBe(true);

      bus.deliver(retired(KEY_A, 3, minutesAfter(24 * 60))); // rotation 2 -> 3 with a day of grace

      expect(registry.isRevoked(KEY_A, 2)).toBe(false);
      expect(registry.isRevoked(KEY_A, 1)).toBe(true);
    });

    it('notifies listeners when a retirement is new or moves, not when it is repeated or stale', async () => {
      const listener = jest.fn();
      registry.onRevoked(listener);
      await registry.start();

      bus.deliver(retired(KEY_A, 2, minutesAfter(60)));
      bus.deliver(retired(KEY_A, 2, minutesAfter(60)));
      bus.deliver(retired(KEY_A, 2, START));
      bus.deliver(retired(KEY_A, 2, minutesAfter(60)));
      bus.deliver(retired(KEY_A, 3, minutesAfter(60)));
      bus.deliver(retired(KEY_A, 2, START));

      expect(listener.mock.calls).toEqual([[KEY_A], [KEY_A], [KEY_A]]);
    });

    it('reconciles retirements from the source over the retention window', async () => {
      const listener = jest.fn();
      registry.onRevoked(listener);
      source.retirements = [
        { apiKeyId: KEY_A, currentVersion: 2, retiredAt: minutesBefore(5) },
        { apiKeyId: KEY_B, currentVersion: 4, retiredAt: minutesAfter(60) },
      ];

      await registry.start();

      expect(source.retiredCalls).toEqual([new Date(START.getTime() - RETENTION_MS)]);
      expect(registry.isRevoked(KEY_A, 1)).toBe(true);
      expect(registry.isRevoked(KEY_A, 2)).toBe(false);
      expect(registry.isRevoked(KEY_B, 3)).toBe(false);
      expect(listener.mock.calls).toEqual([[KEY_A], [KEY_B]]);

      clock.advance(60 * 60_000);
      expect(registry.isRevoked(KEY_B, 3)).toBe(true);
    });

    it('picks up a finish it missed on the bus at the next reconcile', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 2, minutesAfter(24 * 60)));
      expect(registry.isRevoked(KEY_A, 1)).toBe(false);

      source.retirements = [{ apiKeyId: KEY_A, currentVersion: 2, retiredAt: START }];
      await registry.reconcile();

      expect(registry.isRevoked(KEY_A, 1)).toBe(true);
    });

    it('does not let a reconcile of an older rotation undo a newer one heard on the bus', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 3, minutesBefore(1)));

      source.retirements = [{ apiKeyId: KEY_A, currentVersion: 2, retiredAt: minutesBefore(30) }];
      await registry.reconcile();

      expect(registry.isRevoked(KEY_A, 2)).toBe(true);
    });

    it('forgets a retirement once it is older than the retention window, keeping those still ahead', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 2, minutesBefore(1)));
      bus.deliver(retired(KEY_B, 2, minutesAfter(24 * 60)));

      clock.advance(RETENTION_MS + 60_000);
      await registry.reconcile();

      // Every token of version 1 of KEY_A has expired by now; KEY_B's grace period is still running.
      expect(registry.isRevoked(KEY_A, 1)).toBe(false);
      clock.advance(24 * 60 * 60_000);
      expect(registry.isRevoked(KEY_B, 1)).toBe(true);
    });

    it('keeps the known retirements when the source fails', async () => {
      await registry.start();
      bus.deliver(retired(KEY_A, 2, minutesBefore(90))); // would be pruned by a successful reconcile

      source.failure = new Error('connection reset');
      await registry.reconcile();

      expect(registry.isRevoked(KEY_A, 1)).toBe(true);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('connection reset'));
    });

    it('applies a retirement made on this node at once and publishes it', async () => {
      await registry.start();
      const retirement = retired(KEY_C, 2, START);

      await expect(registry.revoke(retirement)).resolves.toBe(true);

      expect(registry.isRevoked(KEY_C, 1)).toBe(true);
      expect(registry.isRevoked(KEY_C)).toBe(false);
      expect(bus.published).toEqual([retirement]);
    });
  });

  describe('rate limit changes', () => {
    it('reach every onRateLimitChanged listener from the bus, with the whole event', async () => {
      const first = jest.fn();
      const second = jest.fn();
      registry.onRateLimitChanged(first);
      registry.onRateLimitChanged(second);
      await registry.start();
      const change = rateLimitChanged(KEY_A, 120, 20);

      bus.deliver(change);

      expect(first.mock.calls).toEqual([[change]]);
      expect(second.mock.calls).toEqual([[change]]);
    });

    it('revoke nothing, retire nothing and do not reach onRevoked listeners', async () => {
      const revoked = jest.fn();
      registry.onRevoked(revoked);
      await registry.start();

      bus.deliver(rateLimitChanged(KEY_A, 1, 0));

      expect(registry.isRevoked(KEY_A)).toBe(false);
      expect(registry.isRevoked(KEY_A, 1)).toBe(false);
      expect(registry.size).toBe(0);
      expect(revoked).not.toHaveBeenCalled();
    });

    it('are not heard by onRateLimitChanged listeners when a key is revoked or retired', async () => {
      const listener = jest.fn();
      registry.onRateLimitChanged(listener);
      await registry.start();

      bus.deliver(event(KEY_A, minutesBefore(1)));
      bus.deliver(retired(KEY_B, 2, START));

      expect(listener).not.toHaveBeenCalled();
    });

    it('are passed on each time they arrive, repeats included: listeners are idempotent', async () => {
      const listener = jest.fn();
      registry.onRateLimitChanged(listener);
      await registry.start();
      const change = rateLimitChanged(KEY_A, 120, 20);

      bus.deliver(change);
      bus.deliver(change);

      expect(listener).toHaveBeenCalledTimes(2);
    });

    it('keep reaching the other listeners when one throws', async () => {
      const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      try {
        const healthy = jest.fn();
        registry.onRateLimitChanged(() => {
          throw new Error('boom');
        });
        registry.onRateLimitChanged(healthy);
        await registry.start();

        bus.deliver(rateLimitChanged(KEY_A, 120, 20));

        expect(healthy).toHaveBeenCalledTimes(1);
        expect(error).toHaveBeenCalledWith(expect.stringContaining('boom'));
      } finally {
        error.mockRestore();
      }
    });

    it('publishRateLimitChange tells the local listeners and broadcasts, reporting a failed broadcast', async () => {
      const listener = jest.fn();
      registry.onRateLimitChanged(listener);
      await registry.start();
      const change = rateLimitChanged(KEY_C, 5, 0);

      await expect(registry.publishRateLimitChange(change)).resolves.toBe(true);
      expect(listener).toHaveBeenCalledWith(change);
      expect(bus.published).toEqual([change]);

      bus.publishResult = false;
      await expect(registry.publishRateLimitChange(change)).resolves.toBe(false);
      expect(listener).toHaveBeenCalledTimes(2);
      expect(registry.isRevoked(KEY_C)).toBe(false);
    });
  });

  describe('disable and enable', () => {
    it('disables a key heard on the bus, and enables it again with a later event', async () => {
      await registry.start();
      expect(registry.isDisabled(KEY_A)).toBe(false);

      bus.deliver(keyState(KEY_A, true, START));
      expect(registry.isDisabled(KEY_A)).toBe(true);
      // Disabled is not revoked: the revocation set is left alone.
      expect(registry.isRevoked(KEY_A, 1)).toBe(false);
      expect(registry.isDisabled(KEY_B)).toBe(false);

      bus.deliver(keyState(KEY_A, false, minutesAfter(1)));
      expect(registry.isDisabled(KEY_A)).toBe(false);
    });

    it('keeps the later change when events arrive out of order, a late echo included', async () => {
      await registry.start();
      bus.deliver(keyState(KEY_A, false, minutesAfter(2)));
      bus.deliver(keyState(KEY_A, true, minutesAfter(1)));
      expect(registry.isDisabled(KEY_A)).toBe(false);

      bus.deliver(keyState(KEY_B, true, minutesAfter(2)));
      bus.deliver(keyState(KEY_B, false, minutesAfter(1)));
      expect(registry.isDisabled(KEY_B)).toBe(true);
    });

    it('counts a tie as disabled', async () => {
      await registry.start();
      bus.deliver(keyState(KEY_A, false, START));
      bus.deliver(keyState(KEY_A, true, START));
      expect(registry.isDisabled(KEY_A)).toBe(true);
      bus.deliver(keyState(KEY_A, false, START));
      expect(registry.isDisabled(KEY_A)).toBe(true);
    });

    it('gives a change made right after another a later time, even when the clock has not moved', async () => {
      await registry.start();
      expect(registry.nextKeyStateChangeAt(KEY_A, START)).toEqual(START);
      await registry.revoke(keyState(KEY_A, true, START));
      const next = registry.nextKeyStateChangeAt(KEY_A, START);
      expect(next).toEqual(new Date(START.getTime() + 1));
      await registry.revoke(keyState(KEY_A, false, next));
      expect(registry.isDisabled(KEY_A)).toBe(false);
      expect(registry.nextKeyStateChangeAt(KEY_A, minutesAfter(1))).toEqual(minutesAfter(1));
    });

    it('applies a change made on this node at once and publishes it', async () => {
      await registry.start();
      const disable = keyState(KEY_A, true, START);
      await expect(registry.revoke(disable)).resolves.toBe(true);
      expect(registry.isDisabled(KEY_A)).toBe(true);
      expect(bus.published).toEqual([disable]);
    });

    it('notifies onRevoked listeners when the state changes, not when it is repeated or stale', async () => {
      const listener = jest.fn();
      registry.onRevoked(listener);
      await registry.start();

      bus.deliver(keyState(KEY_A, true, START));
      bus.deliver(keyState(KEY_A, true, START));
      bus.deliver(keyState(KEY_A, false, minutesBefore(1)));
      expect(listener.mock.calls).toEqual([[KEY_A]]);

      bus.deliver(keyState(KEY_A, false, minutesAfter(1)));
      expect(listener.mock.calls).toEqual([[KEY_A], [KEY_A]]);
      // An enable of a key never disabled here changes nothing a cache holds.
      bus.deliver(keyState(KEY_B, false, START));
      expect(listener).toHaveBeenCalledTimes(2);
    });

    it('loads the disabled keys at start, whenever they were disabled', async () => {
      source.disabled = [{ apiKeyId: KEY_A, disabledAt: new Date('2020-01-01T00:00:00.000Z') }];
      await registry.start();
      expect(registry.isDisabled(KEY_A)).toBe(true);
    });

    it('repairs a missed disable and a missed enable at the next reconcile', async () => {
      const listener = jest.fn();
      registry.onRevoked(listener);
      await registry.start();
      bus.deliver(keyState(KEY_B, true, START));

      // KEY_A was disabled and KEY_B enabled elsewhere; neither message arrived.
      source.disabled = [{ apiKeyId: KEY_A, disabledAt: minutesAfter(1) }];
      clock.set(minutesAfter(2));
      await registry.reconcile();

      expect(registry.isDisabled(KEY_A)).toBe(true);
      expect(registry.isDisabled(KEY_B)).toBe(false);
      expect(listener.mock.calls).toEqual([[KEY_B], [KEY_A], [KEY_B]]);

      // A late echo of the old disable does not undo the enable the reconcile found.
      bus.deliver(keyState(KEY_B, true, START));
      expect(registry.isDisabled(KEY_B)).toBe(false);
      // Nor does a late enable older than the disable the reconcile found.
      bus.deliver(keyState(KEY_A, false, START));
      expect(registry.isDisabled(KEY_A)).toBe(true);
    });

    it('does not let a reconcile read before an event undo it', async () => {
      await registry.start();
      bus.deliver(keyState(KEY_B, true, START));
      source.disabled = [{ apiKeyId: KEY_B, disabledAt: START }];

      source.hold();
      const reconcile = registry.reconcile();
      // Both arrive after the read was taken: KEY_A disabled (not yet in the read), KEY_B enabled (still in it).
      bus.deliver(keyState(KEY_A, true, minutesAfter(1)));
      bus.deliver(keyState(KEY_B, false, minutesAfter(1)));
      source.release();
      await reconcile;

      expect(registry.isDisabled(KEY_A)).toBe(true);
      expect(registry.isDisabled(KEY_B)).toBe(false);
    });

    it('keeps the disabled keys when the source fails', async () => {
      await registry.start();
      bus.deliver(keyState(KEY_A, true, START));
      source.failure = new Error('connection refused');
      await registry.reconcile();
      expect(registry.isDisabled(KEY_A)).toBe(true);
    });

    it('keeps a disabled key past the retention window, and forgets an old enable', async () => {
      await registry.start();
      bus.deliver(keyState(KEY_A, true, START));
      bus.deliver(keyState(KEY_B, false, START));
      source.disabled = [{ apiKeyId: KEY_A, disabledAt: START }];
      clock.set(new Date(START.getTime() + RETENTION_MS + 60_000));
      await registry.reconcile();
      expect(registry.isDisabled(KEY_A)).toBe(true);
      // Forgotten: an event that old may be applied again, and the next reconcile would repair it.
      expect(registry.nextKeyStateChangeAt(KEY_B, START)).toEqual(START);
    });

    it('tells onRevoked listeners of an allowlist change, which disables and revokes nothing', async () => {
      const listener = jest.fn();
      registry.onRevoked(listener);
      await registry.start();
      bus.deliver({
        type: 'allowed_ips_changed',
        apiKeyId: KEY_C,
        organizationId: ORG,
        changedAt: START.toISOString(),
      });
      expect(listener.mock.calls).toEqual([[KEY_C]]);
      expect(registry.isDisabled(KEY_C)).toBe(false);
      expect(registry.isRevoked(KEY_C, 1)).toBe(false);
    });
  });
});
