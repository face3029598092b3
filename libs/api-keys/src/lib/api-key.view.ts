import type { Permission } from '@gatehouse/contracts';
import { maskApiKey } from '@gatehouse/crypto';
import type { ApiKeyEntity } from '@gatehouse/persistence';
import type { ApiKeyStatus } from './dto/list-api-keys.dto';

/** A key as the API shows it: never the secret, never its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  client_id: string;
  preview: string;
  permissions: Permission[];
  environment: 'live' | 'test';
  status: ApiKeyStatus;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
}

export interface CreatedApiKeyView extends ApiKeyView {
  /** The secret, present only in the response that created it. */
  api_key: string;
}

export function statusOf(key: ApiKeyEntity, now: Date): ApiKeyStatus {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && key.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

export function toApiKeyView(key: ApiKeyEntity, now: Date): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    client_id: key.clientId,
    preview: maskApiKey(key.keyPrefix, key.keyLast4),
    permissions: key.permissions,
    environment: key.environment,
    status: statusOf(key, now),
    created_at: key.createdAt.toISOString(),
    created_by: key.createdBy,
    expires_at: key.expiresAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    last_used_ip: key.lastUsedIp,
  };
}
