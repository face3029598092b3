import { LRUCache } from 'lru-cache';
import type { Permission } from '@gatehouse/contracts';

/** What authenticate needs of a key, cached by secret hash for a short time. */
export interface CachedApiKey {
  id: string;
  organizationId: string;
  clientId: string;
  permissions: Permission[];
  keyHash: Buffer;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/**
 * Spares authenticate its one database read for keys seen recently. Entries are dropped at once when a
 * revocation arrives and live at most `ttlMs` otherwise, which bounds how long a missed revocation message
 * could keep a key usable here.
 */
export class ApiKeyCache {
  private readonly byHash: LRUCache<string, CachedApiKey>;
  private readonly hashById = new Map<string, string>();

  constructor(ttlMs: number, maxEntries = 10_000) {
    this.byHash = new LRUCache<string, CachedApiKey>({
      max: maxEntries,
      ttl: ttlMs,
      dispose: (value) => this.hashById.delete(value.id),
    });
  }

  get(hash: Buffer): CachedApiKey | undefined {
    return this.byHash.get(hash.toString('hex'));
  }

  set(key: CachedApiKey): void {
    const hex = key.keyHash.toString('hex');
    this.byHash.set(hex, key);
    this.hashById.set(key.id, hex);
  }

  evict(apiKeyId: string): void {
    const hex = this.hashById.get(apiKeyId);
    if (hex !== undefined) this.byHash.delete(hex);
  }
}
