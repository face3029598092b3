/**
 * Retries with exponential backoff and full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): the
 * n-th wait is uniform in [0, min(maxDelay, baseDelay × 2ⁿ)), so that a fleet of pipelines hit by the same outage
 * does not come back in lockstep. A server's `Retry-After` replaces the computed wait. Bounded twice: in attempts
 * and in the total time spent, waits included.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included (1: no retry). */
  maxAttempts: number;
  /** No retry starts once this much time has passed since the first attempt, nor one whose wait would pass it. */
  maxElapsedMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  maxElapsedMs: 120_000,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
};

export interface RetryClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The wait before retry number `retry` (0 for the first retry): full jitter, `random()` in [0, 1). */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/**
 * `Retry-After` (RFC 9110 §10.2.3) in milliseconds: delay-seconds or an HTTP date. Undefined when absent or not
 * understood, so the computed backoff applies.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP date names its zone, GMT (IMF-fixdate and the obsolete forms): anything else is not one.
  if (!/GMT$/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export type RetryDecision = { retry: false } | { retry: true; reason: string; retryAfterMs?: number };

export interface RetryInfo {
  /** The attempt that just failed, from 1. */
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface RetryOutcome<T> {
  settled: Settled<T>;
  attempts: number;
  /** Why the last attempt was not retried although it could have been: the bounds ran out. */
  exhausted?: string;
}

export interface RetryOptions<T> {
  policy: RetryPolicy;
  clock: RetryClock;
  random: () => number;
  decide(settled: Settled<T>): RetryDecision;
  onRetry?(info: RetryInfo): void;
}

/** Runs `operation` until `decide` says it is done or the policy's bounds run out; never throws by itself. */
export async function retrying<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions<T>,
): Promise<RetryOutcome<T>> {
  const { policy, clock } = options;
  const startedAt = clock.now();
  for (let attempt = 1; ; attempt += 1) {
    let settled: Settled<T>;
    try {
      settled = { ok: true, value: await operation(attempt) };
    } catch (error) {
      settled = { ok: false, error };
    }
    const decision = options.decide(settled);
    if (!decision.retry) return { settled, attempts: attempt };
    if (attempt >= policy.maxAttempts) {
      return { settled, attempts: attempt, exhausted: `${policy.maxAttempts} attempts` };
    }
    const delayMs = decision.retryAfterMs ?? backoffDelay(attempt - 1, policy, options.random);
    const elapsedMs = clock.now() - startedAt;
    if (elapsedMs + delayMs > policy.maxElapsedMs) {
      const waitNote = decision.retryAfterMs !== undefined ? ` (Retry-After asked for ${delayMs} ms)` : '';
      return {
        settled,
        attempts: attempt,
        exhausted: `the retry time limit of ${Math.round(policy.maxElapsedMs / 1000)} s${waitNote}`,
      };
    }
    options.onRetry?.({ attempt, delayMs, reason: decision.reason });
    await clock.sleep(delayMs);
  }
}
