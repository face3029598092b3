import { LRUCache } from 'lru-cache';

export interface KeyRateLimit {
  requestsPerMinute: number;
  burst: number;
}

/**
 * Per-key limits changed through admin-api since this gateway started, as broadcast on the bus. They win over the
 * `rate_limit` claim of tokens issued before the change; a gateway that missed a message (restarted, Redis away)
 * applies the claim, which is never older than one token lifetime (30 minutes).
 */
export class RateLimitOverrides {
  private readonly byKey = new LRUCache<string, { limit: KeyRateLimit; changedAt: number }>({ max: 100_000 });

  apply(apiKeyId: string, limit: KeyRateLimit, changedAt: Date): void {
    const known = this.byKey.get(apiKeyId);
    // Messages may arrive out of order; the latest change wins.
    if (known && known.changedAt > changedAt.getTime()) return;
    this.byKey.set(apiKeyId, { limit, changedAt: changedAt.getTime() });
  }

  get(apiKeyId: string): KeyRateLimit | undefined {
    return this.byKey.get(apiKeyId)?.limit;
  }
}
