import { LRUCache } from 'lru-cache';
import type { IpAllowlist, Permission, RateLimit } from '@gatehouse/contracts';

/** What authenticate needs of a key, cached by the hash of the secret that matched. */
export interface CachedApiKey {
  id: string;
  organizationId: string;
  clientId: string;
  permissions: Permission[];
  /** Hash of the secret this entry answers for: the current one, or the previous one during a rotation. */
  keyHash: Buffer;
  /** Version of that secret, carried into tokens as `key_version`. */
  keyVersion: number;
  /** Set when the entry is for a rotated-out secret: it stops working then. */
  secretRetiresAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** Set while the key is disabled (such rows are never cached; the revocation registry covers later disables). */
  disabledAt: Date | null;
  /** Where the key may be used from, compiled once per cached entry; carried into tokens as `allowed_ips`. */
  allowedIps: IpAllowlist;
  /** The key's effective rate limit (its override, else its organization plan's), carried into tokens. */
  rateLimit: RateLimit;
}

/**
 * Spares authenticate its one database read for keys seen recently. Entries are dropped at once when a
 * revocation, rotation, disable, enable, allowlist or rate limit change arrives and live at most `ttlMs` otherwise, which bounds how long a
 * missed message could keep a secret usable, or an old rate limit in new tokens, here.
 */
export class ApiKeyCache {
  private readonly byHash: LRUCache<string, CachedApiKey>;
  private readonly hashesById = new Map<string, Set<string>>();

  constructor(ttlMs: number, maxEntries = 10_000) {
    this.byHash = new LRUCache<string, CachedApiKey>({
      max: maxEntries,
      ttl: ttlMs,
      dispose: (value, hex) => {
        const hashes = this.hashesById.get(value.id);
        hashes?.delete(hex);
        if (hashes?.size === 0) this.hashesById.delete(value.id);
      },
    });
  }

  get(hash: Buffer): CachedApiKey | undefined {
    return this.byHash.get(hash.toString('hex'));
  }

  set(key: CachedApiKey): void {
    const hex = key.keyHash.toString('hex');
    this.byHash.set(hex, key);
    const hashes = this.hashesById.get(key.id) ?? new Set<string>();
    hashes.add(hex);
    this.hashesById.set(key.id, hashes);
  }

  /** Drops every secret of the key. */
  evict(apiKeyId: string): void {
    for (const hex of [...(this.hashesById.get(apiKeyId) ?? [])]) this.byHash.delete(hex);
  }
}
