import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { Clock } from '@gatehouse/contracts';
import { BIND_METRICS, type GatehouseMetrics, type MetricsAware } from '@gatehouse/http';

/** One authentication attempt with a known key. */
export interface UsageAttempt {
  apiKeyId: string;
  organizationId: string;
  at: Date;
  /** `success` or the error code of the refusal. */
  outcome: string;
  ip: string;
  userAgent: string | null;
  requestId: string | null;
}

export interface UsageLogOptions {
  flushIntervalMs: number;
  retentionDays: number;
  /** Attempts held in memory at most; beyond it new ones are counted and dropped, never the process. */
  maxPending: number;
}

/** PostgreSQL class 23: integrity constraint violation; retrying the same row cannot succeed. */
function isConstraintViolation(error: unknown): boolean {
  const code = (error as { code?: unknown; driverError?: { code?: unknown } }).code;
  return typeof code === 'string' && code.startsWith('23');
}

const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
const DAY_MS = 86_400_000;

/**
 * The per-key usage log, written off the request path: authenticate appends to memory, one multi-row INSERT per
 * interval stores the batch, and rows older than the retention are deleted hourly.
 */
export class UsageLog implements MetricsAware {
  private readonly logger = new Logger(UsageLog.name);
  private pending: UsageAttempt[] = [];
  private dropped = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly flushing = new Set<Promise<void>>();
  private metrics: GatehouseMetrics | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly options: UsageLogOptions,
  ) {}

  start(): void {
    this.flushTimer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.flushTimer.unref();
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  [BIND_METRICS](metrics: GatehouseMetrics): void {
    this.metrics = metrics;
    void metrics.usageFlushes; // registered now, so that the counters are exposed before the first flush
  }

  async stop(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    // A flush the timer started may still be writing: wait for it, so that a batch it puts back after a failure
    // is retried below instead of being left in memory when the process exits.
    await Promise.allSettled([...this.flushing]);
    await this.flush();
    if (this.pending.length > 0) {
      this.logger.error(`usage log: ${this.pending.length} attempts could not be written before shutdown`);
    }
  }

  append(attempt: UsageAttempt): void {
    if (this.pending.length >= this.options.maxPending) {
      this.dropped += 1;
      return;
    }
    this.pending.push(attempt);
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  flush(): Promise<void> {
    const flushing: Promise<void> = this.flushBatch().finally(() => this.flushing.delete(flushing));
    this.flushing.add(flushing);
    return flushing;
  }

  private async flushBatch(): Promise<void> {
    if (this.dropped > 0) {
      this.logger.warn(`usage log full: ${this.dropped} attempts were not recorded`);
      this.dropped = 0;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      await this.insert(batch);
      this.metrics?.recordUsageFlush('usage_log', 'success');
    } catch (error) {
      if (isConstraintViolation(error)) {
        // One refused row (e.g. a key whose organization was deleted meanwhile) would fail every retry of the
        // whole batch: store the rows one by one and drop only those the database refuses.
        await this.insertOneByOne(batch);
        return;
      }
      // Anything else is transient: keep the batch for the next flush, within the memory bound.
      const kept = [...batch, ...this.pending];
      this.dropped += Math.max(0, kept.length - this.options.maxPending);
      this.pending = kept.slice(0, this.options.maxPending);
      this.metrics?.recordUsageFlush('usage_log', 'failure');
      this.logger.warn(`usage log flush failed, will retry: ${(error as Error).message}`);
    }
  }

  private async insertOneByOne(batch: UsageAttempt[]): Promise<void> {
    let refused = 0;
    for (const [index, attempt] of batch.entries()) {
      try {
        await this.insert([attempt]);
      } catch (error) {
        if (!isConstraintViolation(error)) {
          // The database went away mid-way: keep what is not stored yet for the next flush.
          this.pending = [...batch.slice(index), ...this.pending].slice(0, this.options.maxPending);
          this.logger.warn(`usage log flush interrupted, will retry: ${(error as Error).message}`);
          return;
        }
        refused += 1;
      }
    }
    this.metrics?.recordUsageFlush('usage_log', refused > 0 ? 'partial' : 'success');
    this.logger.warn(
      `usage log: the database refused ${refused} of ${batch.length} attempts; they were dropped`,
    );
  }

  private async insert(batch: UsageAttempt[]): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO api_key_usage (api_key_id, organization_id, occurred_at, outcome, ip, user_agent, request_id)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[])`,
      [
        batch.map((attempt) => attempt.apiKeyId),
        batch.map((attempt) => attempt.organizationId),
        batch.map((attempt) => attempt.at.toISOString()),
        batch.map((attempt) => attempt.outcome),
        batch.map((attempt) => attempt.ip.slice(0, 64)),
        batch.map((attempt) => attempt.userAgent?.slice(0, 512) ?? null),
        batch.map((attempt) => attempt.requestId?.slice(0, 128) ?? null),
      ],
    );
  }

  async prune(): Promise<void> {
    const cutoff = new Date(this.clock.now().getTime() - this.options.retentionDays * DAY_MS);
    try {
      await this.dataSource.query(`DELETE FROM api_key_usage WHERE occurred_at < $1`, [cutoff.toISOString()]);
    } catch (error) {
      this.logger.warn(`usage log pruning failed: ${(error as Error).message}`);
    }
  }
}
