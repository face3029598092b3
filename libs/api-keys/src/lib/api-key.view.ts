import {
  effectiveRateLimit,
  type EffectiveRateLimit,
  type Permission,
  type Plan,
} from '@gatehouse/contracts';
import { maskApiKey } from '@gatehouse/crypto';
import { rateLimitOverrideOf, type ApiKeyEntity } from '@gatehouse/persistence';

/** A key whose expiry is this close counts as expiring soon. */
export const EXPIRING_SOON_MS = 7 * 86_400_000;

export type ApiKeyState = 'active' | 'rotating' | 'disabled' | 'revoked';
/** One word for lists; `expiring_soon` is a list filter, not a status. */
export type ApiKeyStatus = 'active' | 'rotating' | 'disabled' | 'revoked' | 'expired';
export type ExpiryStatus = 'active' | 'expiring_soon' | 'expired';

/** A key as the API shows it: never a secret, never a hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  client_id: string;
  preview: string;
  permissions: Permission[];
  environment: 'live' | 'test';
  /** One word for lists: revoked, expired, disabled, rotating or active. */
  status: ApiKeyStatus;
  state: ApiKeyState;
  expiry_status: ExpiryStatus;
  key_version: number;
  rotation: { previous_preview: string; previous_retires_at: string; rotated_at: string } | null;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
  /** False while the key is disabled (reversible, unlike a revocation). */
  enabled: boolean;
  disabled_at: string | null;
  /** Normalized CIDRs the key may be used from; empty when unrestricted. */
  allowed_ips: string[];
  last_used_at: string | null;
  last_used_ip: string | null;
  /** What the gateway enforces for this key: its override if set, else its organization plan's limit. */
  rate_limit: EffectiveRateLimit;
  /** Free text for people; null when none. */
  description: string | null;
  /** A flat object of string values; empty when none. */
  metadata: Record<string, string>;
}

export interface CreatedApiKeyView extends ApiKeyView {
  /** The secret, present only in the response that created (or rotated) it. */
  api_key: string;
}

export function isRotating(key: ApiKeyEntity, now: Date): boolean {
  return (
    key.previousKeyHash !== null &&
    key.previousRetiresAt !== null &&
    key.previousRetiresAt.getTime() > now.getTime()
  );
}

export function stateOf(key: ApiKeyEntity, now: Date): ApiKeyState {
  if (key.revokedAt) return 'revoked';
  if (key.disabledAt) return 'disabled';
  return isRotating(key, now) ? 'rotating' : 'active';
}

export function expiryStatusOf(key: ApiKeyEntity, now: Date): ExpiryStatus {
  if (!key.expiresAt) return 'active';
  const left = key.expiresAt.getTime() - now.getTime();
  if (left <= 0) return 'expired';
  return left <= EXPIRING_SOON_MS ? 'expiring_soon' : 'active';
}

export function statusOf(key: ApiKeyEntity, now: Date): ApiKeyStatus {
  if (key.revokedAt) return 'revoked';
  if (expiryStatusOf(key, now) === 'expired') return 'expired';
  if (key.disabledAt) return 'disabled';
  return isRotating(key, now) ? 'rotating' : 'active';
}

/** @param plan the plan of the key's organization, which sets the limit of keys without an override */
export function toApiKeyView(key: ApiKeyEntity, now: Date, plan: Plan): ApiKeyView {
  const rotating = !key.revokedAt && isRotating(key, now);
  return {
    id: key.id,
    name: key.name,
    client_id: key.clientId,
    preview: maskApiKey(key.keyPrefix, key.keyLast4),
    permissions: key.permissions,
    environment: key.environment,
    status: statusOf(key, now),
    state: stateOf(key, now),
    expiry_status: expiryStatusOf(key, now),
    key_version: key.keyVersion,
    rotation:
      rotating && key.previousKeyLast4 && key.previousRetiresAt && key.rotatedAt
        ? {
            previous_preview: maskApiKey(key.keyPrefix, key.previousKeyLast4),
            previous_retires_at: key.previousRetiresAt.toISOString(),
            rotated_at: key.rotatedAt.toISOString(),
          }
        : null,
    created_at: key.createdAt.toISOString(),
    created_by: key.createdBy,
    expires_at: key.expiresAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
    enabled: key.disabledAt === null,
    disabled_at: key.disabledAt?.toISOString() ?? null,
    allowed_ips: [...key.allowedIps],
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    last_used_ip: key.lastUsedIp,
    rate_limit: effectiveRateLimit(plan, rateLimitOverrideOf(key)),
    description: key.description,
    metadata: { ...key.metadata },
  };
}
