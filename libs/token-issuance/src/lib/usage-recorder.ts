import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';

interface LastUse {
  at: Date;
  ip: string;
}

/**
 * Batches last-used bookkeeping off the request path: authenticate only writes to a map, and one UPDATE per
 * interval carries every key used since. Only the newest use per key matters, so the map never grows beyond
 * the number of active keys.
 */
export class UsageRecorder {
  private readonly logger = new Logger(UsageRecorder.name);
  private pending = new Map<string, LastUse>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
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

  async flush(): Promise<void> {
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
    } catch (error) {
      // Put the batch back (newer entries win) so a database hiccup loses nothing.
      for (const [id, use] of batch) if (!this.pending.has(id)) this.pending.set(id, use);
      this.logger.warn(`last-used flush failed, will retry: ${(error as Error).message}`);
    }
  }
}
