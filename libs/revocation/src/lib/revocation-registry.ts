import { Logger } from '@nestjs/common';
import type { Clock, RateLimitChangedEvent, KeyEvent } from '@gatehouse/contracts';
import { BIND_METRICS, type GatehouseMetrics, type MetricsAware } from '@gatehouse/http';
import { KeyEventBus } from './key-event-bus';

export interface RevokedKey {
  apiKeyId: string;
  revokedAt: Date;
}

export interface RetiredSecret {
  apiKeyId: string;
  /** Tokens with a lower `key_version` die at `retiredAt`. */
  currentVersion: number;
  retiredAt: Date;
}

export interface DisabledKey {
  apiKeyId: string;
  disabledAt: Date;
}

/** Reads revocations and rotations newer than a point in time, and the keys disabled now, from the source of truth. */
export interface RevocationSource {
  revokedSince(since: Date): Promise<RevokedKey[]>;
  retiredSince(since: Date): Promise<RetiredSecret[]>;
  /** Every key disabled at this moment (revoked ones may be left out: the revocation refuses them anyway). */
  disabledKeys(): Promise<DisabledKey[]>;
}

export interface RevocationRegistryOptions {
  reconcileIntervalMs: number;
  /**
   * How long a revocation must be remembered: past it, every token issued from the key has expired. It is the
   * token lifetime plus the key cache lifetime plus clock tolerance.
   */
  retentionMs: number;
}

type RevokedListener = (apiKeyId: string) => void;
export type RateLimitChangedListener = (event: RateLimitChangedEvent) => void;

/**
 * The local revocation set each node checks on every request, so authorizing a request needs no network call.
 * Fed by the bus for speed and by a periodic reconcile from PostgreSQL for certainty.
 */
export class RevocationRegistry implements MetricsAware {
  private readonly logger = new Logger(RevocationRegistry.name);
  private readonly revoked = new Map<string, number>();
  private readonly retired = new Map<string, { currentVersion: number; retiredAt: number }>();
  /**
   * The latest known disable/enable of each key, enabled ones kept for a while so that an older event arriving
   * late cannot undo a newer one. `sequence` orders local changes against a reconcile's read.
   */
  private readonly keyStates = new Map<string, { disabled: boolean; changedAt: number; sequence: number }>();
  private sequence = 0;
  private readonly listeners: RevokedListener[] = [];
  private readonly rateLimitListeners: RateLimitChangedListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastReconciledAt: Date | undefined;
  private reconciling: Promise<void> | undefined;
  private metrics: GatehouseMetrics | undefined;

  constructor(
    private readonly source: RevocationSource,
    private readonly bus: KeyEventBus,
    private readonly clock: Clock,
    private readonly options: RevocationRegistryOptions,
  ) {}

  [BIND_METRICS](metrics: GatehouseMetrics): void {
    this.metrics = metrics;
    metrics.revocations.watchSetSize(() => ({
      key_revoked: this.revoked.size,
      secret_retired: this.retired.size,
    }));
    for (const { client, connected } of this.bus.redisConnections()) {
      metrics.watchRedisConnection(client, connected);
    }
  }

  async start(): Promise<void> {
    await this.bus.subscribe(
      (event) => this.apply(event),
      () => void this.reconcile(),
    );
    await this.reconcile();
    this.timer = setInterval(() => void this.reconcile(), this.options.reconcileIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.bus.close();
  }

  /**
   * True when the key is revoked, or when `keyVersion` names a secret that a rotation has retired. Without a
   * version only whole-key revocation is checked (authenticate knows which secret matched by itself).
   */
  isRevoked(apiKeyId: string, keyVersion?: number): boolean {
    if (this.revoked.has(apiKeyId)) return true;
    if (keyVersion === undefined) return false;
    const retirement = this.retired.get(apiKeyId);
    if (retirement === undefined) return false;
    // A rotation starts only after the previous one ended, so anything older than the secret being replaced
    // is retired already, whatever the newest retirement's time.
    if (keyVersion < retirement.currentVersion - 1) return true;
    return keyVersion < retirement.currentVersion && this.clock.now().getTime() >= retirement.retiredAt;
  }

  /** True while the key is disabled: it may not authenticate and its tokens are refused until it is enabled. */
  isDisabled(apiKeyId: string): boolean {
    return this.keyStates.get(apiKeyId)?.disabled === true;
  }

  /**
   * The `changedAt` for a new disable or enable of the key: `now`, or just after the last change this node knows
   * of when the clock has not moved past it, so that a change made right after another always wins over it.
   */
  nextKeyStateChangeAt(apiKeyId: string, now: Date): Date {
    const known = this.keyStates.get(apiKeyId)?.changedAt ?? Number.NEGATIVE_INFINITY;
    return new Date(Math.max(now.getTime(), known + 1));
  }

  get ready(): boolean {
    return this.lastReconciledAt !== undefined;
  }

  get size(): number {
    return this.revoked.size;
  }

  /**
   * Hears whatever may make a cached key record stale: revocations, retirements, every disable or enable of a key
   * (reconciled ones included) and allowlist changes.
   */
  onRevoked(listener: RevokedListener): void {
    this.listeners.push(listener);
  }

  /**
   * Hears every `rate_limit_changed` event on the subscription this registry already holds (Redis pub/sub, or the
   * in-process bus of standalone mode), and those published from this node. The registry keeps no state for them.
   * Delivery is best effort and may repeat (a change published here is heard here, then echoed by the bus) or
   * arrive out of order: listeners must be idempotent and keep, per key, the event with the later `changedAt`.
   */
  onRateLimitChanged(listener: RateLimitChangedListener): void {
    this.rateLimitListeners.push(listener);
  }

  /** Records a revocation, or a disable or enable, made on this node and tells the others. */
  async revoke(event: KeyEvent): Promise<boolean> {
    this.apply(event);
    return this.bus.publish(event);
  }

  /**
   * Tells this node's listeners and every other node that a key's rate limit changed. Resolves to false when the
   * broadcast failed; it never throws, and nothing retries it (new tokens carry the new limit anyway).
   */
  async publishRateLimitChange(event: RateLimitChangedEvent): Promise<boolean> {
    this.apply(event);
    return this.bus.publish(event);
  }

  apply(event: KeyEvent): void {
    switch (event.type) {
      case 'key_revoked':
        this.remember(event.apiKeyId, new Date(event.revokedAt));
        break;
      case 'secret_retired':
        this.retire({
          apiKeyId: event.apiKeyId,
          currentVersion: event.currentVersion,
          retiredAt: new Date(event.retiredAt),
        });
        break;
      case 'rate_limit_changed':
        // Shares the bus, not the meaning: the revocation set is left alone, only its own listeners hear it.
        this.notifyRateLimitChanged(event);
        break;
      case 'key_disabled':
      case 'key_enabled':
        this.changeKeyState(
          event.apiKeyId,
          event.type === 'key_disabled',
          new Date(event.changedAt).getTime(),
        );
        break;
      case 'allowed_ips_changed':
        // Nothing to remember: tokens carry their list. Listeners drop what they cached of the key.
        this.notify(event.apiKeyId);
        break;
    }
  }

  /** Concurrent calls share one query. Failures are logged and the last known set stays in force. */
  reconcile(): Promise<void> {
    this.reconciling ??= this.reconcileOnce().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    const now = this.clock.now();
    const since = new Date(now.getTime() - this.options.retentionMs);
    // Disables and enables applied after this point may be newer than what the read below returns.
    const readFrom = this.sequence;
    try {
      const [revoked, retired, disabled] = await Promise.all([
        this.source.revokedSince(since),
        this.source.retiredSince(since),
        this.source.disabledKeys(),
      ]);
      for (const row of revoked) this.remember(row.apiKeyId, row.revokedAt);
      for (const row of retired) this.retire(row);
      this.reconcileKeyStates(disabled, readFrom, now.getTime());
      this.prune(since.getTime());
      this.lastReconciledAt = now;
    } catch (error) {
      this.logger.warn(
        `revocation reconcile failed (${(error as Error).message}); keeping the last known set`,
      );
    }
  }

  private remember(apiKeyId: string, revokedAt: Date): void {
    if (this.revoked.has(apiKeyId)) return;
    this.revoked.set(apiKeyId, revokedAt.getTime());
    this.metrics?.revocations.applied.inc({ type: 'key_revoked' });
    this.notify(apiKeyId);
  }

  /** A newer rotation replaces an older one; for the same rotation the earlier retirement time wins. */
  private retire(secret: RetiredSecret): void {
    const known = this.retired.get(secret.apiKeyId);
    const retiredAt = secret.retiredAt.getTime();
    if (
      known &&
      (known.currentVersion > secret.currentVersion ||
        (known.currentVersion === secret.currentVersion && known.retiredAt <= retiredAt))
    ) {
      return;
    }
    this.retired.set(secret.apiKeyId, { currentVersion: secret.currentVersion, retiredAt });
    this.metrics?.revocations.applied.inc({ type: 'secret_retired' });
    this.notify(secret.apiKeyId);
  }

  /** The later change wins; on a tie, disabled wins (refusing is the safe way to be wrong until the reconcile). */
  private changeKeyState(apiKeyId: string, disabled: boolean, changedAt: number): void {
    if (Number.isNaN(changedAt)) return;
    const known = this.keyStates.get(apiKeyId);
    if (
      known &&
      (known.changedAt > changedAt || (known.changedAt === changedAt && (known.disabled || !disabled)))
    ) {
      return;
    }
    this.keyStates.set(apiKeyId, { disabled, changedAt, sequence: ++this.sequence });
    if ((known?.disabled ?? false) !== disabled) this.notify(apiKeyId);
  }

  /**
   * PostgreSQL's list of disabled keys is the truth, except for keys changed by an event while it was read: a
   * missed `key_disabled` is applied, and a key no longer listed (a missed `key_enabled`) is enabled again.
   */
  private reconcileKeyStates(disabled: readonly DisabledKey[], readFrom: number, now: number): void {
    const listed = new Set<string>();
    for (const row of disabled) {
      listed.add(row.apiKeyId);
      const known = this.keyStates.get(row.apiKeyId);
      if (known?.disabled || (known && known.sequence > readFrom)) continue;
      this.keyStates.set(row.apiKeyId, {
        disabled: true,
        changedAt: Math.max(row.disabledAt.getTime(), known?.changedAt ?? 0),
        sequence: ++this.sequence,
      });
      this.notify(row.apiKeyId);
    }
    for (const [apiKeyId, state] of this.keyStates) {
      if (!state.disabled || listed.has(apiKeyId) || state.sequence > readFrom) continue;
      // When it was enabled is unknown; the read's time keeps a late echo of the old disable from winning.
      this.keyStates.set(apiKeyId, {
        disabled: false,
        changedAt: Math.max(now, state.changedAt),
        sequence: ++this.sequence,
      });
      this.notify(apiKeyId);
    }
  }

  private notify(apiKeyId: string): void {
    for (const listener of this.listeners) {
      try {
        listener(apiKeyId);
      } catch (error) {
        // One failing listener must not stop the revocation from being recorded or the others from hearing it.
        this.logger.error(`revocation listener failed for ${apiKeyId}: ${(error as Error).message}`);
      }
    }
  }

  private notifyRateLimitChanged(event: RateLimitChangedEvent): void {
    for (const listener of this.rateLimitListeners) {
      try {
        listener(event);
      } catch (error) {
        // As for revocations: one failing listener must not keep the others from hearing the change.
        this.logger.error(`rate limit listener failed for ${event.apiKeyId}: ${(error as Error).message}`);
      }
    }
  }

  private prune(olderThan: number): void {
    for (const [apiKeyId, revokedAt] of this.revoked) {
      if (revokedAt < olderThan) this.revoked.delete(apiKeyId);
    }
    for (const [apiKeyId, { retiredAt }] of this.retired) {
      if (retiredAt < olderThan) this.retired.delete(apiKeyId);
    }
    // A disabled key stays until it is enabled; an enable is remembered only as long as an old event could arrive.
    for (const [apiKeyId, state] of this.keyStates) {
      if (!state.disabled && state.changedAt < olderThan) this.keyStates.delete(apiKeyId);
    }
  }
}
