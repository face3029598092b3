import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A cached token is not handed out in its last minute: a request sent with it must still arrive in time. */
export const TOKEN_REUSE_MARGIN_MS = 60_000;

export interface CachedToken {
  access_token: string;
  /** Epoch milliseconds. */
  expires_at: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** `$XDG_CACHE_HOME/gatehouse`, else `~/.cache/gatehouse` (the XDG base directory default). */
export function cacheDirectory(env: Env, homeDirectory: string): string {
  const xdg = env['XDG_CACHE_HOME']?.trim();
  // The XDG spec ignores relative paths: they would depend on the working directory.
  const base = xdg && xdg.startsWith('/') ? xdg : join(homeDirectory, '.cache');
  return join(base, 'gatehouse');
}

/**
 * The name of a credential's cache entry: a hash of where and who (API URL, client id, key), so the key itself is
 * never written anywhere and a changed key, client id or server never reuses another's token.
 */
export function tokenCacheKey(apiUrl: string, clientId: string, apiKey: string): string {
  return createHash('sha256')
    .update(`gatehouse-cli/token/v1\n${apiUrl}\n${clientId}\n${apiKey}`)
    .digest('hex');
}

/**
 * Access tokens on disk, one owner-only (0600) file per credential in an owner-only (0700) directory. A file
 * anyone else could read or write, or that is not a regular file, is never used.
 */
export class TokenCache {
  private readonly directory: string;

  constructor(cacheDir: string) {
    this.directory = join(cacheDir, 'tokens');
  }

  path(key: string): string {
    return join(this.directory, `${key}.json`);
  }

  /** The cached token if it stays valid past the reuse margin. */
  read(key: string, nowMs: number): CachedToken | undefined {
    const path = this.path(key);
    try {
      const stat = lstatSync(path);
      if (!stat.isFile() || (stat.mode & 0o077) !== 0) return undefined;
      if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) return undefined;
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<CachedToken>;
      if (typeof parsed.access_token !== 'string' || typeof parsed.expires_at !== 'number') return undefined;
      if (parsed.expires_at - TOKEN_REUSE_MARGIN_MS <= nowMs) return undefined;
      return { access_token: parsed.access_token, expires_at: parsed.expires_at };
    } catch {
      // No entry, or an unreadable or corrupt one, which is as good as none: the token is fetched again and the
      // entry replaced.
      return undefined;
    }
  }

  /** Written to a new owner-only file, then renamed over the entry, so a reader never sees half a file. */
  write(key: string, token: CachedToken): void {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    chmodSync(this.directory, 0o700);
    const temporary = join(this.directory, `.${key}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      writeFileSync(temporary, JSON.stringify(token), { mode: 0o600, flag: 'wx' });
      renameSync(temporary, this.path(key));
    } finally {
      rmSync(temporary, { force: true });
    }
  }

  delete(key: string): void {
    rmSync(this.path(key), { force: true });
  }
}
