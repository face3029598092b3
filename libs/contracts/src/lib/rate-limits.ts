/** The plans an organization can be on. Persistence stores one of these; the rate limits below hang off them. */
export const PLANS = ['starter', 'pro', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

const PLAN_SET: ReadonlySet<string> = new Set(PLANS);

export function isPlan(value: unknown): value is Plan {
  return typeof value === 'string' && PLAN_SET.has(value);
}

/**
 * How many API calls one key may make: `requests_per_minute` per one-minute window, plus `burst` more once those
 * are spent, so at most `requests_per_minute + burst` in any window. Snake case because it travels as a token
 * claim and in JSON bodies.
 */
export interface RateLimit {
  requests_per_minute: number;
  burst: number;
}

/** Where a key's effective limit comes from: its organization's plan, or an override set on the key. */
export const RATE_LIMIT_SOURCES = ['plan', 'override'] as const;
export type RateLimitSource = (typeof RATE_LIMIT_SOURCES)[number];

export interface EffectiveRateLimit extends RateLimit {
  source: RateLimitSource;
}

/** The limit every key of an organization gets unless an admin overrides it for one key. */
export const PLAN_RATE_LIMITS: Readonly<Record<Plan, Readonly<RateLimit>>> = {
  starter: { requests_per_minute: 60, burst: 10 },
  pro: { requests_per_minute: 300, burst: 50 },
  enterprise: { requests_per_minute: 1000, burst: 100 },
};

/** Bounds of a per-key override, checked by admin-api and by every consumer of the broadcast. */
export const RATE_LIMIT_REQUESTS_PER_MINUTE_MIN = 1;
export const RATE_LIMIT_REQUESTS_PER_MINUTE_MAX = 100_000;
/** A burst of 0 is allowed: the key then gets exactly its sustained rate and nothing more. */
export const RATE_LIMIT_BURST_MIN = 0;
export const RATE_LIMIT_BURST_MAX = 10_000;

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** True when both numbers are integers within the override bounds (every plan's limit is, too). */
export function isValidRateLimit(requestsPerMinute: unknown, burst: unknown): boolean {
  return (
    isIntegerIn(requestsPerMinute, RATE_LIMIT_REQUESTS_PER_MINUTE_MIN, RATE_LIMIT_REQUESTS_PER_MINUTE_MAX) &&
    isIntegerIn(burst, RATE_LIMIT_BURST_MIN, RATE_LIMIT_BURST_MAX)
  );
}

/**
 * The limit a key runs under: its override when it has one, else its organization plan's. The one place this
 * rule is written, so the key view, the token claim and the broadcast can never disagree.
 */
export function effectiveRateLimit(plan: Plan, override: RateLimit | null): EffectiveRateLimit {
  if (override) {
    return { requests_per_minute: override.requests_per_minute, burst: override.burst, source: 'override' };
  }
  const limit = PLAN_RATE_LIMITS[plan] as Readonly<RateLimit> | undefined;
  // Unreachable while the database's CHECK and PLANS agree; a plan added to one only must fail loudly.
  if (!limit) throw new Error(`no rate limit is defined for plan "${String(plan)}"`);
  return { requests_per_minute: limit.requests_per_minute, burst: limit.burst, source: 'plan' };
}
