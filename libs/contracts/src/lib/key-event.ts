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
 * to the organization plan's, `source: 'plan'`). It rides the key-event bus but revokes nothing. Delivery is
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

/**
 * Broadcast when a key is disabled (`key_disabled`) or enabled again (`key_enabled`). Unlike a revocation it can
 * be undone, so each node keeps, per key, the event with the later `changedAt` (a tie counts as disabled). A
 * disabled key cannot authenticate and its tokens are refused; enabling lifts both. Missed messages are repaired
 * by the reconcile from PostgreSQL, like revocations.
 */
export interface KeyStateChangedEvent {
  type: 'key_disabled' | 'key_enabled';
  apiKeyId: string;
  organizationId: string;
  changedAt: string;
}

/**
 * Broadcast when a key's IP allowlist changes, so that auth-service drops its cached copy of the key and the next
 * token carries the new list. It carries no list and revokes nothing: tokens keep the list they were issued with
 * until they expire. Best effort like `rate_limit_changed`; a missed one is bounded by auth-service's key cache
 * lifetime.
 */
export interface AllowedIpsChangedEvent {
  type: 'allowed_ips_changed';
  apiKeyId: string;
  organizationId: string;
  changedAt: string;
}

/** Everything the key-event bus carries. Consumers must ignore types they do not act on. */
export type KeyEvent =
  | KeyRevokedEvent
  | SecretRetiredEvent
  | RateLimitChangedEvent
  | KeyStateChangedEvent
  | AllowedIpsChangedEvent;
