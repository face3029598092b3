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
  /**
   * Leases on the shared store (see `RateLimiter`): under a rule, a replica reserves
   * `max(1, floor((limit + burst) / leaseDivisor))` units of a key's budget in one Redis call and admits the
   * key's next requests from memory while they last. A larger divisor means smaller leases: more Redis calls, and
   * less of a window that can go unused. Default 100: about 1 % of a window per lease, and rules with
   * `limit + burst` under 200 stay exact (one Redis call per request). 0 turns leases off. A non-negative
   * integer; irrelevant with a memory store, which never leases.
   */
  leaseDivisor?: number;
}

/** Both rate-limiter-flexible's limiters and BurstyRateLimiter consume this way. */
interface Consumer {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
}

/**
 * Units of one key's budget that this replica has counted in Redis and not admitted yet, with what Redis said
 * when they were taken. Kept with no units left too, as what is last known of the key's window.
 */
interface Lease {
  /** Counted in Redis, not admitted yet. */
  units: number;
  /** The main counter's remaining points as Redis reported them when the lease was taken, capped to the limit. */
  reportedRemaining: number;
  /** Taken once the main counter was spent, so counted on the burst counter. */
  onBurst: boolean;
  /** What was last known to be left of the counter the next acquisition will be charged to (see `learn`). */
  nextRemaining: number;
  /** Epoch ms by which the window the lease was taken in has ended; the lease is void from then on. */
  expiresAt: number;
}

/** How an acquisition that other requests waited on ended. */
type Acquisition = 'granted' | 'refused' | 'failed';

/** One rule's limiters: in the shared store when there is one, and always in memory. */
interface Limiters<L> {
  shared: L | undefined;
  local: L;
}

/** A settled limiter call: rate-limiter-flexible refuses by rejecting with a RateLimiterRes. */
type Outcome<R> = { admitted: true; res: R } | { admitted: false; res: RateLimiterRes };

const DEFAULT_MAX_CACHED_RULES = 1000;
const DEFAULT_LEASE_DIVISOR = 100;
/** Keys with a lease (or with what is known of their window) kept at most, least recently used dropped first. */
const MAX_LEASES = 100_000;
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
 *
 * Leases. Every request through the gateway waits for its limiter decision, and a decision on Redis is a round
 * trip: on a small machine that wait, not the limiter's CPU, is most of what limits cost in throughput. So on
 * Redis, `consume` reserves several units of a key's budget at once (a lease of n: `leaseDivisor`) and admits
 * the key's next requests from memory until they are used up. The units are counted in Redis before any of them
 * is admitted, and a lease is void at the end of the window it was taken in, so replicas together still never
 * admit more than `limit + burst` per window (the lease's end is measured from before the call went out, so it
 * never outlives the window in Redis). The price is under-admission, bounded per key and window:
 * - units a replica still holds when the window ends are lost: at most n - 1 per replica (it holds one lease
 *   per key, and the request that acquired it took a unit);
 * - rate-limiter-flexible counts the points of a refused call all the same, so an acquisition of n that finds
 *   fewer than n left on a counter wastes them. Acquiring one unit instead once what is known to be left is
 *   below n limits that to what a replica acting on stale knowledge finds: at most n - 1 once on the main
 *   counter and once on the burst counter (only one call can push a counter past its points), whatever the
 *   number of replicas.
 * So at most (replicas + 2) x (n - 1) per window, about (replicas + 2) % of `limit + burst` with the default
 * divisor, and only for keys whose demand reaches their budget; in exchange, all but about 1 % of a key's
 * requests are decided without a Redis round trip. Acceptable because a limit protects the system: admitting a
 * little less at the very end of a window costs a client a retry, admitting more than the rule never happens.
 * Rules smaller than the divisor lease one unit: decided exactly, one Redis call per request, as without leases.
 */
export class RateLimiter {
  private readonly local: RateLimitStore;
  private readonly shared: RateLimitStore | undefined;
  private readonly rateLimiters: LRUCache<string, Limiters<Consumer> & { prefix: string }>;
  private readonly failureLimiters: LRUCache<string, Limiters<RateLimiterAbstract>>;
  private readonly leaseDivisor: number;
  /** By limiter prefix (the rule included) and key. */
  private readonly leases = new LRUCache<string, Lease>({ max: MAX_LEASES });
  /** Acquisitions in flight, by the same id as leases: concurrent requests for a key share one. */
  private readonly acquisitions = new Map<string, Promise<Acquisition>>();
  private activeStore: RateLimitStoreKind;
  private closed = false;

  constructor(private readonly options: RateLimiterOptions) {
    if (typeof options.keyPrefix !== 'string' || options.keyPrefix.length === 0)
      throw new Error('RateLimiter needs a non-empty keyPrefix');
    const max = options.maxCachedRules ?? DEFAULT_MAX_CACHED_RULES;
    if (!Number.isInteger(max) || max < 1)
      throw new Error(`maxCachedRules must be a positive integer (got ${max})`);
    const leaseDivisor = options.leaseDivisor ?? DEFAULT_LEASE_DIVISOR;
    if (!Number.isInteger(leaseDivisor) || leaseDivisor < 0)
      throw new Error(`leaseDivisor must be a non-negative integer (got ${leaseDivisor})`);
    this.leaseDivisor = leaseDivisor;
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

  /**
   * Where the latest decision that called a store was taken. Decisions admitted from a lease call none and leave
   * it as it is (they report `store: 'shared'`: their units were counted in Redis).
   */
  get currentStore(): RateLimitStoreKind {
    return this.activeStore;
  }

  /**
   * Counts one request of `key` in `bucket` against `rule`. Never rejects because of the store: when Redis
   * fails the decision is taken in memory and reports `store: 'local'`. On Redis, may admit from a lease
   * without calling Redis (see the class).
   */
  async consume(bucket: string, key: string, rule: RateLimitRule): Promise<RateLimitDecision> {
    this.checkCall(bucket, key);
    validateRateLimitRule(rule);
    const limiters = this.rateLimitersFor(bucket, rule);
    const leaseSize = this.leaseSize(rule);
    const decision =
      limiters.shared && leaseSize > 1
        ? await this.consumeLeased(`${limiters.prefix}:${key}`, limiters, key, rule, leaseSize)
        : await this.consumeOnce(limiters, key, rule);
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
    this.leases.clear();
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
  private rateLimitersFor(bucket: string, rule: RateLimitRule): Limiters<Consumer> & { prefix: string } {
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
      limiters = { shared: this.shared && create(this.shared), local: create(this.local), prefix };
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

  /** Units a lease of `rule` reserves; 1 means no leases (one store call per request). */
  private leaseSize(rule: RateLimitRule): number {
    if (this.leaseDivisor === 0) return 1;
    return Math.max(1, Math.floor((rule.limit + rule.burst) / this.leaseDivisor));
  }

  /** One store call for this request alone, as without leases. */
  private async consumeOnce(
    limiters: Limiters<Consumer>,
    key: string,
    rule: RateLimitRule,
  ): Promise<RateLimitDecision> {
    const [outcome, store] = await this.decide(limiters, (limiter) => limiter.consume(key));
    return this.toDecision(outcome, store, rule.limit);
  }

  /** Only for a rule whose leases are larger than 1, with a shared store. */
  private async consumeLeased(
    id: string,
    limiters: Limiters<Consumer>,
    key: string,
    rule: RateLimitRule,
    leaseSize: number,
  ): Promise<RateLimitDecision> {
    for (;;) {
      const lease = this.leaseOf(id);
      // No Redis call: the unit was counted there when the lease was taken, even if Redis has failed since.
      if (lease && lease.units > 0) return this.admitFromLease(lease, rule);
      const acquisition = this.acquisitions.get(id);
      if (acquisition) {
        // Single flight: the requests that come while a lease is being acquired wait for it, then draw from it
        // (or from another one, if it ran out before their turn). When Redis failed, each decides in memory
        // rather than try Redis again in turn, which would make the last one wait for every timeout before it.
        if ((await acquisition) === 'failed') return this.consumeLocally(limiters, key, rule);
        continue;
      }
      // Near the end of the budget (or right after a refusal), acquire one unit per request: a lease of n finding
      // fewer than n left would be refused and still be counted, wasting what was left. One unit per request is
      // what every request did before leases, concurrent requests included, so no single flight here.
      const nextRemaining = lease ? lease.nextRemaining : rule.limit;
      if (nextRemaining < leaseSize) return this.consumeOnceAndLearn(id, limiters, key, rule);
      return this.acquire(id, limiters, key, rule, leaseSize);
    }
  }

  /** The unexpired lease (or what is known of the window) for `id`; drops an expired one. */
  private leaseOf(id: string): Lease | undefined {
    const lease = this.leases.get(id);
    if (lease && Date.now() >= lease.expiresAt) {
      // Its window has ended: unused units are lost (they were counted in that window, not the next one).
      this.leases.delete(id);
      return undefined;
    }
    return lease;
  }

  /** Takes a lease of `leaseSize` units for this request and the ones waiting on it; this request takes one. */
  private async acquire(
    id: string,
    limiters: Limiters<Consumer>,
    key: string,
    rule: RateLimitRule,
    leaseSize: number,
  ): Promise<RateLimitDecision> {
    const shared = limiters.shared as Consumer;
    let resolveAcquisition: (how: Acquisition) => void = () => undefined;
    const acquisition = new Promise<Acquisition>((resolve) => (resolveAcquisition = resolve));
    this.acquisitions.set(id, acquisition);
    // Called before this request's decision is returned, and at most once: the waiters it wakes then find the
    // lease in place (this request's unit taken) and no acquisition in flight.
    let ended: Acquisition | undefined;
    const end = (how: Acquisition): void => {
      if (ended) return;
      ended = how;
      this.acquisitions.delete(id);
      resolveAcquisition(how);
    };
    try {
      // Taken before the call: the window it reports ends no earlier than this plus its msBeforeNext.
      const sentAt = Date.now();
      let outcome: Outcome<RateLimiterRes>;
      try {
        outcome = await settle(shared.consume(key, leaseSize));
      } catch (error) {
        end('failed');
        this.storeChanged('local', error);
        return await this.consumeLocally(limiters, key, rule);
      }
      this.storeChanged('shared');
      if (!outcome.admitted) {
        this.learn(id, outcome, sentAt, rule, 0);
        end('refused');
        return this.toDecision(outcome, 'shared', rule.limit);
      }
      const decision = this.admitFromLease(this.learn(id, outcome, sentAt, rule, leaseSize), rule);
      end('granted');
      return decision;
    } finally {
      // Whatever happened, the waiters must not wait forever.
      end('failed');
    }
  }

  /** One unit for this request alone, remembering what Redis says of the window. */
  private async consumeOnceAndLearn(
    id: string,
    limiters: Limiters<Consumer>,
    key: string,
    rule: RateLimitRule,
  ): Promise<RateLimitDecision> {
    const sentAt = Date.now();
    const [outcome, store] = await this.decide(limiters, (limiter) => limiter.consume(key));
    // A lease taken meanwhile is left alone: its units belong to its own window, and this answer may come from
    // the next one.
    const current = this.leaseOf(id);
    if (store === 'shared' && !(current && current.units > 0)) this.learn(id, outcome, sentAt, rule, 0);
    return this.toDecision(outcome, store, rule.limit);
  }

  private async consumeLocally(
    limiters: Limiters<Consumer>,
    key: string,
    rule: RateLimitRule,
  ): Promise<RateLimitDecision> {
    return this.toDecision(await settle(limiters.local.consume(key)), 'local', rule.limit);
  }

  /**
   * Records what Redis answered for `id`, with `units` newly leased. BurstyRateLimiter reports the main counter
   * in every case. Every call charges it first, so once it is spent it has also counted everything sent on to the
   * burst counter since: `limit + burst - consumed` is then what is left of the burst, unless the burst counter
   * still holds counts from before (its window starts later than the main one), in which case the one
   * acquisition that finds it short wastes fewer than n units there. After a refusal both counters are past
   * their points until the earlier of their windows ends, which is when this record expires.
   */
  private learn(
    id: string,
    outcome: Outcome<RateLimiterRes>,
    sentAt: number,
    rule: RateLimitRule,
    units: number,
  ): Lease {
    const { res } = outcome;
    const consumed = res.consumedPoints;
    const lease: Lease = {
      units,
      reportedRemaining: Math.min(Math.max(res.remainingPoints, 0), rule.limit),
      onBurst: consumed > rule.limit,
      nextRemaining: !outcome.admitted
        ? 0
        : consumed < rule.limit
          ? rule.limit - consumed
          : rule.limit + rule.burst - consumed,
      expiresAt: sentAt + Math.max(res.msBeforeNext, 0),
    };
    this.leases.set(id, lease);
    return lease;
  }

  private admitFromLease(lease: Lease, rule: RateLimitRule): RateLimitDecision {
    lease.units -= 1;
    // What this replica can still admit of the limit: what Redis had left plus the units it holds, never more
    // than the limit. Units held on the burst are no part of the limit: 0 there, as without leases.
    const remaining = lease.onBurst ? 0 : Math.min(lease.reportedRemaining + lease.units, rule.limit);
    return {
      allowed: true,
      limit: rule.limit,
      remaining,
      resetSeconds: toSeconds(lease.expiresAt),
      retryAfterSeconds: 0,
      store: 'shared',
    };
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
