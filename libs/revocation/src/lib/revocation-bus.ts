import type { RevocationEvent } from '@gatehouse/contracts';

export type RevocationHandler = (event: RevocationEvent) => void;

/**
 * Carries revocations between nodes. Delivery is best effort by design: PostgreSQL is the source of truth and
 * every node reconciles from it, so a lost message delays a revocation by at most one reconcile interval.
 */
export abstract class RevocationBus {
  /** Resolves to false when the message could not be sent; it never throws. */
  abstract publish(event: RevocationEvent): Promise<boolean>;

  /**
   * @param onResync called whenever messages may have been missed (a reconnect), so the caller reconciles.
   */
  abstract subscribe(handler: RevocationHandler, onResync: () => void): Promise<void>;

  abstract close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Messages come from the network: anything not shaped like an event is dropped. */
export function parseRevocationEvent(message: string): RevocationEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const event = value as Record<string, unknown>;
  if (event['type'] !== 'key_revoked') return null;
  if (typeof event['apiKeyId'] !== 'string' || !UUID.test(event['apiKeyId'])) return null;
  if (typeof event['organizationId'] !== 'string') return null;
  if (typeof event['revokedAt'] !== 'string' || Number.isNaN(Date.parse(event['revokedAt']))) return null;
  if (event['reason'] !== 'revoked' && event['reason'] !== 'deleted') return null;
  return {
    type: 'key_revoked',
    apiKeyId: event['apiKeyId'],
    organizationId: event['organizationId'],
    revokedAt: event['revokedAt'],
    reason: event['reason'],
  };
}
