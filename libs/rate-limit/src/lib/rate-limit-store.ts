import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitStoreKind } from './rate-limit-rule';

/** What a store needs to build one rate-limiter-flexible limiter. */
export interface StoreLimiterOptions {
  /** Namespaces every counter of this limiter; the store adds nothing to it. */
  keyPrefix: string;
  points: number;
  durationSeconds: number;
  /** Once more than `points` are consumed, the key stays refused this long (0: no block). */
  blockSeconds?: number;
}

/**
 * Where counters live. Every store hands out rate-limiter-flexible limiters, so `RateLimiter` runs the same code
 * whether the counters are in Redis or in memory.
 */
export abstract class RateLimitStore {
  /** 'shared' stores are backed up by a local one while they fail; a 'local' store is used alone. */
  abstract readonly kind: RateLimitStoreKind;

  abstract createLimiter(options: StoreLimiterOptions): RateLimiterAbstract;

  abstract close(): Promise<void>;
}

/**
 * Counters in this process's memory: the whole store of the embedded standalone mode, and the per-instance
 * fallback while Redis is unreachable. Entries expire with their window, on unref'd timers.
 */
export class MemoryRateLimitStore extends RateLimitStore {
  readonly kind = 'local';

  createLimiter(options: StoreLimiterOptions): RateLimiterAbstract {
    return new RateLimiterMemory({
      keyPrefix: options.keyPrefix,
      points: options.points,
      duration: options.durationSeconds,
      blockDuration: options.blockSeconds ?? 0,
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
