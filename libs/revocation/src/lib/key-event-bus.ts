import { isValidRateLimit, type KeyEvent } from '@gatehouse/contracts';

export type KeyEventHandler = (event: KeyEvent) => void;

/** One Redis connection of a bus: what it is for, and whether it is up now. */
export interface RedisConnectionCheck {
  client: 'revocation_publisher' | 'revocation_subscriber';
  connected: () => boolean;
}

/**
 * Carries revocations between nodes. Delivery is best effort by design: PostgreSQL is the source of truth and
 * every node reconciles from it, so a lost message delays a revocation (or a disable or enable) by at most one
 * reconcile interval. It also
 * carries rate limit changes, which are not reconciled: new tokens carry the new limit, which bounds a lost one.
 */
export abstract class KeyEventBus {
  /** Resolves to false when the message could not be sent; it never throws. */
  abstract publish(event: KeyEvent): Promise<boolean>;

  /**
   * @param onResync called whenever messages may have been missed (a reconnect), so the caller reconciles.
   */
  abstract subscribe(handler: KeyEventHandler, onResync: () => void): Promise<void>;

  abstract close(): Promise<void>;

  /** The bus's Redis connections and whether each is up now, for `gatehouse_redis_connected`; none by default. */
  redisConnections(): RedisConnectionCheck[] {
    return [];
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Messages come from the network: anything not shaped like an event is dropped. */
export function parseKeyEvent(message: string): KeyEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const event = value as Record<string, unknown>;
  const { apiKeyId, organizationId } = event;
  if (typeof apiKeyId !== 'string' || !UUID.test(apiKeyId)) return null;
  if (typeof organizationId !== 'string') return null;
  const isDate = (field: unknown): field is string =>
    typeof field === 'string' && !Number.isNaN(Date.parse(field));
  switch (event['type']) {
    case 'key_revoked': {
      const { revokedAt, reason } = event;
      if (!isDate(revokedAt) || (reason !== 'revoked' && reason !== 'deleted')) return null;
      return { type: 'key_revoked', apiKeyId, organizationId, revokedAt, reason };
    }
    case 'secret_retired': {
      const { currentVersion, retiredAt } = event;
      if (!Number.isInteger(currentVersion) || (currentVersion as number) < 2 || !isDate(retiredAt))
        return null;
      return {
        type: 'secret_retired',
        apiKeyId,
        organizationId,
        currentVersion: currentVersion as number,
        retiredAt,
      };
    }
    case 'rate_limit_changed': {
      const { requestsPerMinute, burst, source, changedAt } = event;
      // Out-of-bounds limits are refused like any other malformed field: a limiter must never run on them.
      if (!isValidRateLimit(requestsPerMinute, burst)) return null;
      if ((source !== 'override' && source !== 'plan') || !isDate(changedAt)) return null;
      return {
        type: 'rate_limit_changed',
        apiKeyId,
        organizationId,
        requestsPerMinute: requestsPerMinute as number,
        burst: burst as number,
        source,
        changedAt,
      };
    }
    case 'key_disabled':
    case 'key_enabled':
    case 'allowed_ips_changed': {
      const { changedAt } = event;
      if (!isDate(changedAt)) return null;
      return { type: event['type'], apiKeyId, organizationId, changedAt };
    }
    default:
      return null;
  }
}
