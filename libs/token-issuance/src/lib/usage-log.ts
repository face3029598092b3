import { Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
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

function sqlStateOf(error: unknown): string | undefined {
  const { code, driverError } = error as { code?: unknown; driverError?: { code?: unknown } };
  const state = typeof code === 'string' ? code : driverError?.code;
  return typeof state === 'string' && /^[0-9A-Z]{5}$/.test(state) ? state : undefined;
}

/**
 * The database refused the data itself: class 22 (data exception: a NUL or invalid byte, a malformed value) or
 * 23 (integrity constraint violation). Retrying the same rows cannot succeed.
 */
function isRefusedData(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/**
 * The database could not be reached or could not run the statement just now: no SQLSTATE at all (a refused or
 * dropped connection, a timeout), class 08 (connection exception), 40 (rollback: serialization, deadlock), 53
 * (insufficient resources), 57 (operator intervention: shutdown, cancel), 58 (system error). Worth retrying as is.
 */
function isTransient(error: unknown): boolean {
  const state = sqlStateOf(error);
  if (state !== undefined) return ['08', '40', '53', '57', '58'].includes(state.slice(0, 2));
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT…
  const message = error instanceof Error ? error.message : '';
  return /connect|terminat|timeout|timed out|closed|not queryable|pool/i.test(message);
}

/** Flushes of one batch failing with an error that is neither transient nor refused data, before it is split. */
export const MAX_BATCH_ATTEMPTS = 3;

/** Why attempts were dropped: the database refused the row, or the in-memory bound was reached. */
export type UsageDropReason = 'refused' | 'overflow';

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
  private droppedCounter: Counter<'reason'> | undefined;
  /** Consecutive flushes that failed with an error neither transient nor refused data. */
  private unexplainedFailures = 0;

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
    const existing = metrics.registry.getSingleMetric('gatehouse_usage_log_dropped_total');
    this.droppedCounter =
      (existing as Counter<'reason'> | undefined) ??
      new Counter({
        name: 'gatehouse_usage_log_dropped_total',
        help: 'Authentication attempts never written to the usage log, by reason (refused by the database, overflow)',
        labelNames: ['reason'],
        registers: [metrics.registry],
      });
    for (const reason of ['refused', 'overflow'] satisfies UsageDropReason[])
      this.droppedCounter.inc({ reason }, 0);
  }

  private countDropped(reason: UsageDropReason, count: number): void {
    if (count > 0) this.droppedCounter?.inc({ reason }, count);
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
      this.countDropped('overflow', 1);
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
      this.unexplainedFailures = 0;
      this.metrics?.recordUsageFlush('usage_log', 'success');
    } catch (error) {
      if (isRefusedData(error) || (!isTransient(error) && ++this.unexplainedFailures >= MAX_BATCH_ATTEMPTS)) {
        // One poisoned row (a key whose organization was deleted meanwhile, a value PostgreSQL cannot store)
        // would fail every retry of the whole batch and block the log for good: store the rows one by one and
        // drop only those the database refuses.
        this.unexplainedFailures = 0;
        await this.insertOneByOne(batch);
        return;
      }
      // Transient (the database is away), or not yet retried enough: keep the batch for the next flush, within
      // the memory bound.
      const kept = [...batch, ...this.pending];
      const overflow = Math.max(0, kept.length - this.options.maxPending);
      this.dropped += overflow;
      this.countDropped('overflow', overflow);
      this.pending = kept.slice(0, this.options.maxPending);
      this.metrics?.recordUsageFlush('usage_log', 'failure');
      this.logger.warn(`usage log flush failed, will retry: ${describeError(error)}`);
    }
  }

  private async insertOneByOne(batch: UsageAttempt[]): Promise<void> {
    let refused = 0;
    let lastRefusal = '';
    for (const [index, attempt] of batch.entries()) {
      try {
        await this.insert([attempt]);
      } catch (error) {
        if (isTransient(error)) {
          // The database went away mid-way: keep what is not stored yet for the next flush.
          this.pending = [...batch.slice(index), ...this.pending].slice(0, this.options.maxPending);
          this.countDropped('refused', refused);
          this.logger.warn(`usage log flush interrupted, will retry: ${describeError(error)}`);
          return;
        }
        refused += 1;
        lastRefusal = describeError(error);
      }
    }
    this.countDropped('refused', refused);
    this.metrics?.recordUsageFlush('usage_log', refused > 0 ? 'partial' : 'success');
    if (refused > 0) {
      // Neither the rows nor the driver's message (which may quote a value): the SQLSTATE and the count.
      this.logger.warn(
        `usage log: the database refused ${refused} of ${batch.length} attempts (${lastRefusal}); they were dropped`,
      );
    }
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

/**
 * An error as logged: its SQLSTATE when it has one, never the database's message (PostgreSQL may quote the refused
 * value, which holds a client's user agent); a connection failure's own message, which holds no row data.
 */
function describeError(error: unknown): string {
  const state = sqlStateOf(error);
  if (state) return `SQLSTATE ${state}`;
  if (isTransient(error) && error instanceof Error) return error.message.slice(0, 200);
  const code = (error as { code?: unknown }).code;
  const name = error instanceof Error ? error.name : typeof error;
  return typeof code === 'string' ? `${name} ${code}` : name;
}
