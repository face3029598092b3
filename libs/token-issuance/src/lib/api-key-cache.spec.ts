import { IpAllowlist } from '@gatehouse/contracts';
import { ApiKeyCache, type CachedApiKey } from './api-key-cache';

let counter = 0;

function cachedKey(overrides: Partial<CachedApiKey> = {}): CachedApiKey {
  counter += 1;
  const suffix = counter.toString(16).padStart(12, '0');
  return {
    id: `00000000-0000-4000-8000-${suffix}`,
    organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
    clientId: 'ci-runner',
    permissions: ['read:findings'],
    keyHash: Buffer.from(`${suffix}`.padEnd(64, 'a'), 'hex'),
    keyVersion: 1,
    secretRetiresAt: null,
    expiresAt: null,
    revokedAt: null,
    disabledAt: null,
    allowedIps: IpAllowlist.of([]),
    rateLimit: { requests_per_minute: 300, burst: 50 },
    ...overrides,
  };
}

describe('ApiKeyCache', () => {
  describe('get/set', () => {
    it('returns a key by its hash', () => {
      const cache = new ApiKeyCache(30_000);
      const key = cachedKey();
      cache.set(key);
      expect(cache.get(key.keyHash)).toBe(key);
    });

    it('finds a key by an equal hash held in another Buffer', () => {
      const cache = new ApiKeyCache(30_000);
      const key = cachedKey();
      cache.set(key);
      expect(cache.get(Buffer.from(key.keyHash))).toBe(key);
    });

    it('returns undefined for an unknown hash', () => {
      const cache = new ApiKeyCache(30_000);
      cache.set(cachedKey());
      expect(cache.get(Buffer.alloc(32, 0xff))).toBeUndefined();
    });

    it('replaces the entry when the same key is set again', () => {
      const cache = new ApiKeyCache(30_000);
      const key = cachedKey();
      const updated = {
        ...key,
        permissions: ['read:findings', 'write:findings'] as CachedApiKey['permissions'],
      };
      cache.set(key);
      cache.set(updated);
      expect(cache.get(key.keyHash)).toBe(updated);
    });
  });

  describe('evict', () => {
    it('removes a key by its id', () => {
      const cache = new ApiKeyCache(30_000);
      const key = cachedKey();
      const other = cachedKey();
      cache.set(key);
      cache.set(other);

      cache.evict(key.id);

      expect(cache.get(key.keyHash)).toBeUndefined();
      expect(cache.get(other.keyHash)).toBe(other);
    });

    it('removes a key that was set twice (the id mapping survives the overwrite)', () => {
      const cache = new ApiKeyCache(30_000);
      const key = cachedKey();
      cache.set(key);
      cache.set({ ...key });

      cache.evict(key.id);

      expect(cache.get(key.keyHash)).toBeUndefined();
    });

    it('drops every secret of a rotating key: the current one and the one being replaced', () => {
      const cache = new ApiKeyCache(30_000);
      const current = cachedKey({ keyVersion: 2 });
      const previous: CachedApiKey = {
        ...current,
        keyHash: Buffer.alloc(32, 0x11),
        keyVersion: 1,
        secretRetiresAt: new Date('2030-01-02T12:00:00.000Z'),
      };
      const other = cachedKey();
      cache.set(current);
      cache.set(previous);
      cache.set(other);
      expect(cache.get(previous.keyHash)).toBe(previous);

      cache.evict(current.id);

      expect(cache.get(current.keyHash)).toBeUndefined();
      expect(cache.get(previous.keyHash)).toBeUndefined();
      expect(cache.get(other.keyHash)).toBe(other);
    });

    it('still drops the other secret of a key after one of them was pushed out for size', () => {
      const cache = new ApiKeyCache(30_000, 2);
      const current = cachedKey({ keyVersion: 2 });
      const previous: CachedApiKey = { ...current, keyHash: Buffer.alloc(32, 0x22), keyVersion: 1 };
      cache.set(current);
      cache.set(previous);
      cache.set(cachedKey()); // pushes `current` out

      cache.evict(current.id);

      expect(cache.get(current.keyHash)).toBeUndefined();
      expect(cache.get(previous.keyHash)).toBeUndefined();
    });

    it('ignores an unknown id and a repeated eviction', () => {
      const cache = new ApiKeyCache(30_000);
      const key = cachedKey();
      cache.set(key);
      expect(() => cache.evict('99999999-9999-4999-8999-999999999999')).not.toThrow();
      cache.evict(key.id);
      expect(() => cache.evict(key.id)).not.toThrow();
      expect(cache.get(key.keyHash)).toBeUndefined();
    });
  });

  describe('max size', () => {
    it('drops the least recently used key beyond maxEntries', () => {
      const cache = new ApiKeyCache(30_000, 2);
      const first = cachedKey();
      const second = cachedKey();
      const third = cachedKey();
      cache.set(first);
      cache.set(second);
      cache.set(third);

      expect(cache.get(first.keyHash)).toBeUndefined();
      expect(cache.get(second.keyHash)).toBe(second);
      expect(cache.get(third.keyHash)).toBe(third);
    });

    it('counts a get as a use', () => {
      const cache = new ApiKeyCache(30_000, 2);
      const first = cachedKey();
      const second = cachedKey();
      const third = cachedKey();
      cache.set(first);
      cache.set(second);
      cache.get(first.keyHash);
      cache.set(third);

      expect(cache.get(first.keyHash)).toBe(first);
      expect(cache.get(second.keyHash)).toBeUndefined();
    });

    it('forgets the id of a key dropped for size, so evicting it touches nothing else', () => {
      const cache = new ApiKeyCache(30_000, 1);
      const first = cachedKey();
      const second = cachedKey();
      cache.set(first);
      cache.set(second);

      cache.evict(first.id);

      expect(cache.get(second.keyHash)).toBe(second);
    });
  });

  describe('ttl', () => {
    /**
     * lru-cache captures the global `performance` when it is first loaded, so the module is loaded afresh
     * after jest's fake timers have replaced `performance`; the fake clock then drives expiry.
     */
    function loadWithFakeTimers(): typeof import('./api-key-cache') {
      jest.useFakeTimers();
      // A start time of 0 means "no TTL" to lru-cache; move the fake performance clock off zero.
      jest.advanceTimersByTime(1_000);
      let loaded: typeof import('./api-key-cache') | undefined;
      jest.isolateModules(() => {
        loaded = require('./api-key-cache') as typeof import('./api-key-cache');
      });
      if (!loaded) throw new Error('module not loaded');
      return loaded;
    }

    afterEach(() => {
      jest.useRealTimers();
    });

    it('keeps a key until its ttl has passed, then forgets it', () => {
      const { ApiKeyCache: FreshCache } = loadWithFakeTimers();
      const cache = new FreshCache(30_000);
      const key = cachedKey();
      cache.set(key);

      jest.advanceTimersByTime(29_000);
      expect(cache.get(key.keyHash)).toBe(key);

      jest.advanceTimersByTime(1_001);
      expect(cache.get(key.keyHash)).toBeUndefined();
    });

    it('does not extend the ttl when a key is read', () => {
      const { ApiKeyCache: FreshCache } = loadWithFakeTimers();
      const cache = new FreshCache(30_000);
      const key = cachedKey();
      cache.set(key);

      for (let elapsed = 0; elapsed < 30_000; elapsed += 5_000) {
        expect(cache.get(key.keyHash)).toBe(key);
        jest.advanceTimersByTime(5_000);
      }
      jest.advanceTimersByTime(1);
      expect(cache.get(key.keyHash)).toBeUndefined();
    });

    it('drops the id mapping of an expired key, so a re-cached key can still be evicted', () => {
      const { ApiKeyCache: FreshCache } = loadWithFakeTimers();
      const cache = new FreshCache(30_000);
      const key = cachedKey();
      cache.set(key);
      jest.advanceTimersByTime(30_001);
      expect(cache.get(key.keyHash)).toBeUndefined();

      cache.set(key);
      cache.evict(key.id);
      expect(cache.get(key.keyHash)).toBeUndefined();
    });
  });
});
