import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The provider's secrets: its token signing key (a private JWK) and the keys of its signed cookies. */
export interface DevIdentityKeys {
  signingKey: Record<string, unknown>;
  cookieKeys: string[];
}

export function generateDevIdentityKeys(): DevIdentityKeys {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    signingKey: { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' },
    cookieKeys: [randomBytes(32).toString('base64url')],
  };
}

/**
 * The keys kept in a file (owner-only), made on first use: tokens signed before a restart still verify after it,
 * and the browser's session cookie stays valid. Written beside the file, then renamed over it.
 */
export function loadOrCreateDevIdentityKeys(path: string): DevIdentityKeys {
  try {
    const kept = JSON.parse(readFileSync(path, 'utf8')) as Partial<DevIdentityKeys>;
    if (
      typeof kept.signingKey !== 'object' ||
      !Array.isArray(kept.cookieKeys) ||
      kept.cookieKeys.length === 0
    ) {
      throw new Error(`${path} does not hold the development identity provider's keys`);
    }
    return kept as DevIdentityKeys;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const keys = generateDevIdentityKeys();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(keys)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
  return keys;
}
