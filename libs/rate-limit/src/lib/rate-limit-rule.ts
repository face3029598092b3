/** Where a decision was taken: Redis, shared by every gateway replica, or this process's memory. */
export type RateLimitStoreKind = 'shared' | 'local';

/**
 * At most `limit` requests per window, plus `burst` more once those are spent: over one window a key gets at
 * most `limit + burst` requests. The window is fixed and starts with the key's first request.
 */
export interface RateLimitRule {
  /** Positive integer; also what `X-RateLimit-Limit` announces. */
  limit: number;
  /** Non-negative integer: 0 means exactly `limit` per window. */
  burst: number;
  /** Positive integer. */
  windowSeconds: number;
}

/**
 * Brute-force protection: `maxFailures` failed attempts are tolerated within a window; the failure after them
 * (the `maxFailures + 1`-th within the window) blocks the key for `blockSeconds`.
 */
export interface FailureRule {
  /** Positive integer: failures tolerated per window. */
  maxFailures: number;
  /** Positive integer. */
  windowSeconds: number;
  /** Positive integer. */
  blockSeconds: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** `rule.limit` (or `maxFailures` for failure checks), for `X-RateLimit-Limit`. */
  limit: number;
  /**
   * What is left of `limit` in this window; never negative, 0 while running on the burst or refused. Admitted
   * from a lease: what Redis had left when the lease was taken plus the units still held, at most `limit`.
   */
  remaining: number;
  /** Unix epoch seconds at which the window (or block) ends, for `X-RateLimit-Reset`. */
  resetSeconds: number;
  /** Whole seconds, at least 1, when refused; 0 when allowed. For `Retry-After`. */
  retryAfterSeconds: number;
  store: RateLimitStoreKind;
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0;
}

function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value;
}

/** Throws a descriptive Error unless every field is an integer in range. */
export function validateRateLimitRule(rule: RateLimitRule): void {
  const problems: string[] = [];
  if (!isPositiveInteger(rule.limit))
    problems.push(`limit must be a positive integer (got ${shown(rule.limit)})`);
  if (!Number.isInteger(rule.burst) || rule.burst < 0)
    problems.push(`burst must be a non-negative integer (got ${shown(rule.burst)})`);
  if (!isPositiveInteger(rule.windowSeconds))
    problems.push(`windowSeconds must be a positive integer (got ${shown(rule.windowSeconds)})`);
  if (problems.length > 0) throw new Error(`Invalid rate limit rule: ${problems.join('; ')}`);
}

/** Throws a descriptive Error unless every field is a positive integer. */
export function validateFailureRule(rule: FailureRule): void {
  const problems: string[] = [];
  if (!isPositiveInteger(rule.maxFailures))
    problems.push(`maxFailures must be a positive integer (got ${shown(rule.maxFailures)})`);
  if (!isPositiveInteger(rule.windowSeconds))
    problems.push(`windowSeconds must be a positive integer (got ${shown(rule.windowSeconds)})`);
  if (!isPositiveInteger(rule.blockSeconds))
    problems.push(`blockSeconds must be a positive integer (got ${shown(rule.blockSeconds)})`);
  if (problems.length > 0) throw new Error(`Invalid failure rule: ${problems.join('; ')}`);
}
