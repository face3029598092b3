/**
 * Delay before attempt `attempt + 1`, after `attempt` failed ones: base × 4^(attempt−1), capped at `maxMs`, with
 * up to ±20% jitter so that endpoints that failed together are not retried in lockstep. With the defaults (base
 * 30 s, 8 attempts) the retries come after about 30 s, 2 min, 8 min, 32 min, 2 h 8 min, 6 h and 6 h: the last
 * attempt about 15 hours after the first.
 */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(baseMs * 4 ** Math.max(0, attempt - 1), maxMs);
  const jitter = 1 + (random() * 2 - 1) * 0.2;
  return Math.round(exponential * jitter);
}

/** Ceiling of a single retry delay. */
export const RETRY_DELAY_MAX_MS = 6 * 3_600_000;
