import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { BIND_METRICS, type GatehouseMetrics, type MetricsAware } from '@gatehouse/http';

interface LastUse {
  at: Date;
  ip: string;
}

/**
 * Batches last-used bookkeeping off the request path: authenticate only writes to a map, and one UPDATE per
 * interval carries every key used since. Only the newest use per key matters, so the map never grows beyond
 * the number of active keys.
 */
export class UsageRecorder implements MetricsAware {
  private readonly logger = new Logger(UsageRecorder.name);
  private pending = new Map<string, LastUse>();
  private timer: NodeJS.Timeout | undefined;
  private readonly flushing = new Set<Promise<void>>();
  private metrics: GatehouseMetrics | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  [BIND_METRICS](metrics: GatehouseMetrics): void {
    this.metrics = metrics;
    void metrics.usageFlushes; // registered now, so that the counters are exposed before the first flush
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    // A flush the timer started may still be writing: wait for it, so that a batch it puts back after a failure
    // is retried below instead of being left in memory when the process exits.
    await Promise.allSettled([...this.flushing]);
    await this.flush();
    if (this.pending.size > 0) {
      this.logger.error(`${this.pending.size} last-used updates could not be written before shutdown`);
    }
  }

  record(apiKeyId: string, at: Date, ip: string): void {
    // Concurrent requests may finish out of order; an older use must not overwrite a newer one.
    const previous = this.pending.get(apiKeyId);
    if (previous && previous.at.getTime() > at.getTime()) return;
    this.pending.set(apiKeyId, { at, ip: ip.slice(0, 64) });
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  flush(): Promise<void> {
    const flushing: Promise<void> = this.flushBatch().finally(() => this.flushing.delete(flushing));
    this.flushing.add(flushing);
    return flushing;
  }

  private async flushBatch(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const ids: string[] = [];
    const times: string[] = [];
    const ips: string[] = [];
    for (const [id, use] of batch) {
      ids.push(id);
      times.push(use.at.toISOString());
      ips.push(use.ip);
    }
    try {
      await this.dataSource.query(
        `UPDATE api_keys AS k SET last_used_at = u.at, last_used_ip = u.ip
           FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS u(id, at, ip)
          WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`,
        [ids, times, ips],
      );
      this.metrics?.recordUsageFlush('last_used', 'success');
    } catch (error) {
      this.metrics?.recordUsageFlush('last_used', 'failure');
      // Put the batch back (newer entries win) so a database hiccup loses nothing.
      for (const [id, use] of batch) if (!this.pending.has(id)) this.pending.set(id, use);
      this.logger.warn(`last-used flush failed, will retry: ${(error as Error).message}`);
    }
  }
}
