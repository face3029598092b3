import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  /** Epoch milliseconds; absent for what does not expire. */
  expiresAt?: number;
}

/**
 * oidc-provider's storage (sessions, grants, refresh tokens, interactions) as one map per provider, kept in a JSON
 * file (owner-only, replaced by rename) when given one, so that a signed-in browser and its refresh token outlive
 * a restart of the suite. Development traffic only: every change rewrites the file.
 */
export class DevIdentityStorage {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly path?: string,
    private readonly now: () => number = Date.now,
  ) {
    if (!path) return;
    try {
      const kept = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Entry>;
      for (const [key, entry] of Object.entries(kept)) this.entries.set(key, entry);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  /** The adapter class oidc-provider instantiates once per model name. */
  adapter(): new (name: string) => Adapter {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class below is constructed by oidc-provider
    const storage = this;
    return class implements Adapter {
      constructor(private readonly name: string) {}

      upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
        storage.set(`${this.name}:${id}`, {
          payload,
          ...(expiresIn ? { expiresAt: storage.now() + expiresIn * 1000 } : {}),
        });
        return Promise.resolve();
      }

      find(id: string): Promise<AdapterPayload | undefined> {
        return Promise.resolve(storage.get(`${this.name}:${id}`));
      }

      findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
        return Promise.resolve(storage.findBy(this.name, (payload) => payload.userCode === userCode));
      }

      findByUid(uid: string): Promise<AdapterPayload | undefined> {
        return Promise.resolve(storage.findBy(this.name, (payload) => payload.uid === uid));
      }

      consume(id: string): Promise<void> {
        const payload = storage.get(`${this.name}:${id}`);
        if (payload)
          storage.update(`${this.name}:${id}`, { ...payload, consumed: Math.floor(storage.now() / 1000) });
        return Promise.resolve();
      }

      destroy(id: string): Promise<void> {
        storage.remove((key) => key === `${this.name}:${id}`);
        return Promise.resolve();
      }

      revokeByGrantId(grantId: string): Promise<void> {
        storage.remove((_key, entry) => entry.payload.grantId === grantId);
        return Promise.resolve();
      }
    };
  }

  private get(key: string): AdapterPayload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.now()) {
      this.remove((candidate) => candidate === key);
      return undefined;
    }
    return entry.payload;
  }

  private findBy(name: string, matches: (payload: AdapterPayload) => boolean): AdapterPayload | undefined {
    for (const key of this.entries.keys()) {
      if (!key.startsWith(`${name}:`)) continue;
      const payload = this.get(key);
      if (payload && matches(payload)) return payload;
    }
    return undefined;
  }

  private set(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    this.save();
  }

  private update(key: string, payload: AdapterPayload): void {
    const entry = this.entries.get(key);
    if (entry) this.set(key, { ...entry, payload });
  }

  private remove(matches: (key: string, entry: Entry) => boolean): void {
    for (const [key, entry] of this.entries) if (matches(key, entry)) this.entries.delete(key);
    this.save();
  }

  private save(): void {
    if (!this.path) return;
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) this.entries.delete(key);
    }
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(Object.fromEntries(this.entries)), { mode: 0o600 });
    renameSync(temporary, this.path);
  }
}
