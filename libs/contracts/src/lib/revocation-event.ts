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

export type RevocationEvent = KeyRevokedEvent | SecretRetiredEvent;
