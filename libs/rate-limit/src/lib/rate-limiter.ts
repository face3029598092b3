import { LRUCache } from 'lru-cache';
import { BurstyRateLimiter, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import {
  validateFailureRule,
  validateRateLimitRule,
  type FailureRule,
  type RateLimitDecision,
  type RateLimitRule,
  type RateLimitStoreKind,
} from './rate-limit-rule';
import { MemoryRateLimitStore, type RateLimitStore } from './rate-limit-store';

export interface RateLimiterOptions {
  /** A `RedisRateLimitStore` (backed up in memory while Redis fails) or a `MemoryRateLimitStore` alone. */
  store: RateLimitStore;
  /** Namespaces every key this limiter writes: deployments or test suites sharing one Redis use distinct ones. */
  keyPrefix: string;
  /**
   * Called with every admission decision (`consume` and `checkFailures`, not `recordFailure`), e.g. for
   * metrics. Must not throw.
   */
  onDecision?: (bucket: string, decision: RateLimitDecision) => void;
  /**
   * Called when decisions move from Redis to memory (with the error that caused it) and back. Must not throw.
   */
  onStoreChange?: (store: RateLimitStoreKind, error?: unknown) => void;
  /** Distinct (bucket, rule) pairs whose limiters are kept, least recently used dropped first; default 1000. */
  maxCachedRules?: number;
}

/** Both rate-limiter-flexible's limiters and BurstyRateLimiter consume this way. */
interface Consumer {
  consume(key: string): Promise<RateLimiterRes>;
}

/** One rule's limiters: in the shared store when there is one, and always in memory. */
interface Limiters<L> {
  shared: L | undefined;
  local: L;
}

/** A settled limiter call: rate-limiter-flexible refuses by rejecting with a RateLimiterRes. */
type Outcome<R> = { admitted: true; res: R } | { admitted: false; res: RateLimiterRes };

const DEFAULT_MAX_CACHED_RULES = 1000;
/** Buckets are names chosen in code; no ':' so that `bucket` and `key` can never run into each other in a key. */
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

async function settle<R>(operation: Promise<R>): Promise<Outcome<R>> {
  try {
    return { admitted: true, res: await operation };
  } catch (error) {
    if (error instanceof RateLimiterRes) return { admitted: false, res: error };
    throw error;
  }
}

function toSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/**
 * The gateway's rate limiter: per (bucket, key) limits with a burst, and brute-force blocking of keys with too
 * many failed attempts. Counters live in the store given; when that is Redis and Redis fails, each call is
 * decided by an in-memory limiter for the same rule and key instead, and the next call tries Redis again.
 * Keys may be anything (hashes, IP addresses) and are never logged.
 */
export class RateLimiter {
  private readonly local: RateLimitStore;
  private readonly shared: RateLimitStore | undefined;
  private readonly rateLimiters: LRUCache<string, Limiters<Consumer>>;
  private readonly failureLimiters: LRUCache<string, Limiters<RateLimiterAbstract>>;
  private activeStore: RateLimitStoreKind;
  private closed = false;

  constructor(private readonly options: RateLimiterOptions) {
    if (typeof options.keyPrefix !== 'string' || options.keyPrefix.length === 0)
      throw new Error('RateLimiter needs a non-empty keyPrefix');
    const max = options.maxCachedRules ?? DEFAULT_MAX_CACHED_RULES;
    if (!Number.isInteger(max) || max < 1)
      throw new Error(`maxCachedRules must be a positive integer (got ${max})`);
    if (options.store.kind === 'shared') {
      this.shared = options.store;
      this.local = new MemoryRateLimitStore();
    } else {
      this.local = options.store;
    }
    this.activeStore = options.store.kind;
    this.rateLimiters = new LRUCache({ max });
    this.failureLimiters = new LRUCache({ max });
  }

  /** Where the latest decision was taken. */
  get currentStore(): RateLimitStoreKind {
    return this.activeStore;
  }

  /**
   * Counts one request of `key` in `bucket` against `rule`. Never rejects because of the store: when Redis
   * fails the decision is taken in memory and reports `store: 'local'`.
   */
  async consume(bucket: string, key: string, rule: RateLimitRule): Promise<RateLimitDecision> {
    this.checkCall(bucket, key);
    validateRateLimitRule(rule);
    const limiters = this.rateLimitersFor(bucket, rule);
    const [outcome, store] = await this.decide(limiters, (limiter) => limiter.consume(key));
    const decision = this.toDecision(outcome, store, rule.limit);
    this.options.onDecision?.(bucket, decision);
    return decision;
  }

  /** Whether `key` is currently blocked under `rule`, without counting anything. */
  async checkFailures(bucket: string, key: string, rule: FailureRule): Promise<RateLimitDecision> {
    this.checkCall(bucket, key);
    validateFailureRule(rule);
    const limiters = this.failureLimitersFor(bucket, rule);
    const [outcome, store] = await this.decide(limiters, (limiter) => limiter.get(key));
    // get() only reads: it resolves with the counter, or null when there is none.
    const decision = this.toFailureDecision(outcome.res, store, rule);
    this.options.onDecision?.(bucket, decision);
    return decision;
  }

  /**
   * Counts one failed attempt of `key`. The failure that takes the count within the window past
   * `rule.maxFailures` blocks the key for `rule.blockSeconds`; the decision returned says whether it is now
   * blocked. Failures counted while blocked do not extend the block.
   */
  async recordFailure(bucket: string, key: string, rule: FailureRule): Promise<RateLimitDecision> {
    this.checkCall(bucket, key);
    validateFailureRule(rule);
    const limiters = this.failureLimitersFor(bucket, rule);
    const [outcome, store] = await this.decide(limiters, (limiter) => limiter.consume(key));
    return this.toDecision(outcome, store, rule.maxFailures);
  }

  /** Drops every limiter and closes the store (a Redis store disconnects its client). Later calls throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.rateLimiters.clear();
    this.failureLimiters.clear();
    await this.options.store.close();
  }

  private checkCall(bucket: string, key: string): void {
    if (this.closed) throw new Error('RateLimiter is closed');
    if (!BUCKET.test(bucket))
      throw new Error(`Invalid rate limit bucket "${bucket}": letters, digits, '_', '.' and '-', at most 64`);
    if (typeof key !== 'string' || key.length === 0)
      throw new Error('Rate limit key must be a non-empty string');
  }

  /**
   * The rule is part of the counters' names, so a key whose rule changes (an override set on an API key) starts
   * a fresh window under the new rule instead of being judged by counts made under the old one.
   */
  private rateLimitersFor(bucket: string, rule: RateLimitRule): Limiters<Consumer> {
    const prefix = `${this.options.keyPrefix}:${bucket}:r${rule.limit}+${rule.burst}/${rule.windowSeconds}s`;
    let limiters = this.rateLimiters.get(prefix);
    if (!limiters) {
      const create = (store: RateLimitStore): Consumer => {
        const main = store.createLimiter({
          keyPrefix: `${prefix}:main`,
          points: rule.limit,
          durationSeconds: rule.windowSeconds,
        });
        if (rule.burst === 0) return main;
        // The burst has its own counter, consumed only once the main one is spent, over the same window length.
        const burst = store.createLimiter({
          keyPrefix: `${prefix}:burst`,
          points: rule.burst,
          durationSeconds: rule.windowSeconds,
        });
        return new BurstyRateLimiter(main, burst);
      };
      limiters = { shared: this.shared && create(this.shared), local: create(this.local) };
      this.rateLimiters.set(prefix, limiters);
    }
    return limiters;
  }

  private failureLimitersFor(bucket: string, rule: FailureRule): Limiters<RateLimiterAbstract> {
    const prefix =
      `${this.options.keyPrefix}:${bucket}:` +
      `f${rule.maxFailures}/${rule.windowSeconds}s-block${rule.blockSeconds}s`;
    let limiters = this.failureLimiters.get(prefix);
    if (!limiters) {
      const create = (store: RateLimitStore): RateLimiterAbstract =>
        store.createLimiter({
          keyPrefix: prefix,
          points: rule.maxFailures,
          durationSeconds: rule.windowSeconds,
          blockSeconds: rule.blockSeconds,
        });
      limiters = { shared: this.shared && create(this.shared), local: create(this.local) };
      this.failureLimiters.set(prefix, limiters);
    }
    return limiters;
  }

  private async decide<L, R>(
    limiters: Limiters<L>,
    operate: (limiter: L) => Promise<R>,
  ): Promise<[Outcome<R>, RateLimitStoreKind]> {
    if (limiters.shared) {
      try {
        const outcome = await settle(operate(limiters.shared));
        this.storeChanged('shared');
        return [outcome, 'shared'];
      } catch (error) {
        // Fail open to the local limiter, never to "unlimited" and never to "refuse": refusing would turn a
        // Redis outage into a gateway outage, and admitting everything would drop the protection just when the
        // system is degraded. Counting in memory keeps every replica within the rule on its own (so the whole
        // fleet within replicas x rule), and the next call tries Redis again, so decisions go back to the
        // shared count by themselves once Redis answers.
        this.storeChanged('local', error);
      }
    }
    return [await settle(operate(limiters.local)), 'local'];
  }

  private storeChanged(store: RateLimitStoreKind, error?: unknown): void {
    if (this.activeStore === store) return;
    this.activeStore = store;
    this.options.onStoreChange?.(store, error);
  }

  private toDecision(
    outcome: Outcome<RateLimiterRes>,
    store: RateLimitStoreKind,
    limit: number,
  ): RateLimitDecision {
    const msBeforeNext = Math.max(outcome.res.msBeforeNext, 0);
    const resetSeconds = toSeconds(Date.now() + msBeforeNext);
    if (!outcome.admitted) {
      return {
        allowed: false,
        limit,
        remaining: 0,
        resetSeconds,
        retryAfterSeconds: Math.max(1, toSeconds(msBeforeNext)),
        store,
      };
    }
    // BurstyRateLimiter reports the main counter's remaining points, so 0 while running on the burst.
    const remaining = Math.min(Math.max(outcome.res.remainingPoints, 0), limit);
    return { allowed: true, limit, remaining, resetSeconds, retryAfterSeconds: 0, store };
  }

  private toFailureDecision(
    res: RateLimiterRes | null,
    store: RateLimitStoreKind,
    rule: FailureRule,
  ): RateLimitDecision {
    const now = Date.now();
    // No counter (or one whose expiry timer has not run yet): nothing failed in the current window.
    if (!res || res.msBeforeNext <= 0) {
      return {
        allowed: true,
        limit: rule.maxFailures,
        remaining: rule.maxFailures,
        resetSeconds: toSeconds(now + rule.windowSeconds * 1000),
        retryAfterSeconds: 0,
        store,
      };
    }
    const blocked = res.consumedPoints > rule.maxFailures;
    return {
      allowed: !blocked,
      limit: rule.maxFailures,
      remaining: Math.max(rule.maxFailures - res.consumedPoints, 0),
      resetSeconds: toSeconds(now + res.msBeforeNext),
      retryAfterSeconds: blocked ? Math.max(1, toSeconds(res.msBeforeNext)) : 0,
      store,
    };
  }
}
