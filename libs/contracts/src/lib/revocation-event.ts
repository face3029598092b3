/**
 * Broadcast when a key stops being valid. `revokedAt` lets a node ignore a token only if it was issued before
 * the revocation, which keeps a future un-revocation impossible to express by accident: revocation is final.
 */
export interface KeyRevokedEvent {
  type: 'key_revoked';
  apiKeyId: string;
  organizationId: string;
  revokedAt: string;
  reason: 'revoked' | 'deleted';
}

export type RevocationEvent = KeyRevokedEvent;
