import { JwksClient } from 'jwks-rsa';
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

/**
 * Finds the public key for a token by its `kid` in the issuer's JWKS. A token without a `kid`, or with any
 * algorithm but RS256, is refused before a key is looked up; jwks-rsa would otherwise fall back to the only
 * key in the set, which hides a missing `kid`.
 */
export class SigningKeyResolver {
  private readonly client: JwksClient;

  constructor(jwksUri: string) {
    this.client = new JwksClient({
      jwksUri,
      cache: true,
      cacheMaxEntries: 16,
      cacheMaxAge: 10 * 60 * 1000,
      // An unknown kid refetches the set (a new key was published), but at most this often.
      rateLimit: true,
      jwksRequestsPerMinute: 10,
      timeout: 3000,
    });
  }

  async resolve(rawJwt: string): Promise<string> {
    const header = decodeHeader(rawJwt);
    if (!header) throw new GatehouseError('invalid_token', 'Access token is malformed');
    if (header.alg !== ALLOWED_ALGORITHM) {
      throw new GatehouseError('invalid_token', 'Access token must be signed with RS256');
    }
    if (typeof header.kid !== 'string' || header.kid.length === 0) {
      throw new GatehouseError('invalid_token', 'Access token has no key id (kid)');
    }
    try {
      const key = await this.client.getSigningKey(header.kid);
      return key.getPublicKey();
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'SigningKeyNotFoundError') {
        throw new GatehouseError('invalid_token', 'Access token is signed by an unknown key');
      }
      throw new GatehouseError('service_unavailable', 'Signing keys cannot be fetched right now');
    }
  }
}
