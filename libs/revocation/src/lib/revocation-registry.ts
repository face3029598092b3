import { Logger } from '@nestjs/common';
import type { Clock, RevocationEvent } from '@gatehouse/contracts';
import { RevocationBus } from './revocation-bus';

export interface RevokedKey {
  apiKeyId: string;
  revokedAt: Date;
}

/** Reads revocations newer than a point in time from the source of truth. */
export interface RevocationSource {
  revokedSince(since: Date): Promise<RevokedKey[]>;
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

/**
 * The local revocation set each node checks on every request, so authorizing a request needs no network call.
 * Fed by the bus for speed and by a periodic reconcile from PostgreSQL for certainty.
 */
export class RevocationRegistry {
  private readonly logger = new Logger(RevocationRegistry.name);
  private readonly revoked = new Map<string, number>();
  private readonly listeners: RevokedListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastReconciledAt: Date | undefined;
  private reconciling: Promise<void> | undefined;

  constructor(
    private readonly source: RevocationSource,
    private readonly bus: RevocationBus,
    private readonly clock: Clock,
    private readonly options: RevocationRegistryOptions,
  ) {}

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

  isRevoked(apiKeyId: string): boolean {
    return this.revoked.has(apiKeyId);
  }

  get ready(): boolean {
    return this.lastReconciledAt !== undefined;
  }

  get size(): number {
    return this.revoked.size;
  }

  onRevoked(listener: RevokedListener): void {
    this.listeners.push(listener);
  }

  /** Records a revocation made on this node and tells the others. */
  async revoke(event: RevocationEvent): Promise<boolean> {
    this.apply(event);
    return this.bus.publish(event);
  }

  apply(event: RevocationEvent): void {
    this.remember(event.apiKeyId, new Date(event.revokedAt));
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
    try {
      const rows = await this.source.revokedSince(since);
      for (const row of rows) this.remember(row.apiKeyId, row.revokedAt);
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
    for (const listener of this.listeners) {
      try {
        listener(apiKeyId);
      } catch (error) {
        // One failing listener must not stop the revocation from being recorded or the others from hearing it.
        this.logger.error(`revocation listener failed for ${apiKeyId}: ${(error as Error).message}`);
      }
    }
  }

  private prune(olderThan: number): void {
    for (const [apiKeyId, revokedAt] of this.revoked) {
      if (revokedAt < olderThan) this.revoked.delete(apiKeyId);
    }
  }
}
