import type { RateLimitSource } from './rate-limits';

/**
 * Broadcast when a key stops being valid. Revocation is final: no event can undo it.
 */
export interface KeyRevokedEvent {
  type: 'key_revoked';
  apiKeyId: string;
  organizationId: string;
  revokedAt: string;
  reason: 'revoked' | 'deleted';
}

/**
 * Broadcast when a key's older secrets stop being valid: at `retiredAt`, tokens issued from a secret older than
 * `currentVersion` die. Sent when a rotation starts (retiredAt = end of the grace period) and when it is
 * finished early (retiredAt = now); the later event for a key always wins.
 */
export interface SecretRetiredEvent {
  type: 'secret_retired';
  apiKeyId: string;
  organizationId: string;
  currentVersion: number;
  retiredAt: string;
}

/**
 * Broadcast when a key's effective rate limit changes: an override set (`source: 'override'`) or cleared (back
 * to the organization plan's, `source: 'plan'`). It rides the revocation bus but revokes nothing. Delivery is
 * best effort and nothing reconciles it: a node that misses it keeps the old limit until it sees a newer token of
 * the key, since every token issued after the change carries the new limit in its `rate_limit` claim. So a missed
 * message is bounded by the access token lifetime (plus auth-service's key cache lifetime). For the same key,
 * the event with the later `changedAt` wins.
 */
export interface RateLimitChangedEvent {
  type: 'rate_limit_changed';
  apiKeyId: string;
  organizationId: string;
  /** The new effective limit. */
  requestsPerMinute: number;
  burst: number;
  /** `override` when set on the key, `plan` when cleared back to the organization plan's. */
  source: RateLimitSource;
  changedAt: string;
}

/** Everything the revocation bus carries. Consumers must ignore types they do not act on. */
export type RevocationEvent = KeyRevokedEvent | SecretRetiredEvent | RateLimitChangedEvent;
