import { KeyObject, type webcrypto } from 'node:crypto';
import { createRemoteJWKSet, errors } from 'jose';
import { GatehouseError } from '@gatehouse/contracts';

const ALLOWED_ALGORITHM = 'RS256';

interface JoseHeader {
  alg?: unknown;
  kid?: unknown;
}

function decodeHeader(rawJwt: string): JoseHeader | null {
  const encoded = rawJwt.split('.', 1)[0];
  try {
    const header: unknown = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null ? header : null;
  } catch {
    return null;
  }
}

export interface SigningKeyResolverOptions {
  /** Longest a fetched key set is used before it is fetched again. */
  cacheMaxAgeMs?: number;
  /** Shortest time between two fetches caused by an unknown `kid`. */
  cooldownMs?: number;
  timeoutMs?: number;
}

/**
 * Finds the public key for a token by its `kid` in the issuer's JWKS, using jose's remote key set: the whole set
 * is cached, a known `kid` is always answered from the cache, and an unknown `kid` refetches the set at most once
 * per cooldown. Forged tokens with made-up key ids therefore cost nothing and cannot starve real ones.
 * A token without a `kid`, or signed with anything but RS256, is refused before any lookup.
 */
export class SigningKeyResolver {
  private readonly keySet: ReturnType<typeof createRemoteJWKSet>;
  private readonly keyObjects = new WeakMap<object, KeyObject>();

  constructor(jwksUri: string, options: SigningKeyResolverOptions = {}) {
    this.keySet = createRemoteJWKSet(new URL(jwksUri), {
      cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60 * 1000,
      cooldownDuration: options.cooldownMs ?? 30_000,
      timeoutDuration: options.timeoutMs ?? 3000,
    });
  }

  /** Resolves to the PEM of the public key that signed the token. */
  async resolve(rawJwt: string): Promise<KeyObject> {
    const header = decodeHeader(rawJwt);
    if (!header) throw new GatehouseError('invalid_token', 'Access token is malformed');
    if (header.alg !== ALLOWED_ALGORITHM) {
      throw new GatehouseError('invalid_token', 'Access token must be signed with RS256');
    }
    // RFC 7515 §4.1.11: a token naming extensions the verifier must understand is refused; we understand none.
    if ('crit' in header) {
      throw new GatehouseError('invalid_token', 'Access token has critical header extensions');
    }
    if (typeof header.kid !== 'string' || header.kid.length === 0) {
      throw new GatehouseError('invalid_token', 'Access token has no key id (kid)');
    }
    let cryptoKey: webcrypto.CryptoKey;
    try {
      cryptoKey = await this.keySet({ alg: ALLOWED_ALGORITHM, kid: header.kid });
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
        throw new GatehouseError('invalid_token', 'Access token is signed by an unknown key');
      }
      throw new GatehouseError(
        'service_unavailable',
        'Signing keys cannot be fetched right now; retry shortly',
      );
    }
    // passport-jwt verifies with jsonwebtoken, which takes PEM; convert each key once.
    // jsonwebtoken would parse a PEM again on every request; a KeyObject built once per key is reused.
    let keyObject = this.keyObjects.get(cryptoKey);
    if (keyObject === undefined) {
      keyObject = KeyObject.from(cryptoKey);
      this.keyObjects.set(cryptoKey, keyObject);
    }
    return keyObject;
  }
}
