import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  generateDevelopmentKeyPem,
  loadSigningKey,
  SIGNING_ALGORITHM,
  SigningKeyError,
  toJwks,
  type SigningKey,
} from './signing-keys';

/** RFC 7638 thumbprint of an RSA public JWK, computed independently of jose. */
function rfc7638Thumbprint(jwk: { e?: string; n?: string }): string {
  const canonical = JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
  return createHash('sha256').update(canonical).digest('base64url');
}

describe('loadSigningKey', () => {
  let pem: string;
  let otherPem: string;
  let key: SigningKey;

  beforeAll(async () => {
    pem = generateDevelopmentKeyPem();
    otherPem = generateDevelopmentKeyPem();
    key = await loadSigningKey(pem);
  });

  it('loads an RSA private key with its public half', () => {
    expect(key.privateKey.type).toBe('private');
    expect(key.privateKey.asymmetricKeyType).toBe('rsa');
    expect(key.publicKey.type).toBe('public');
    expect(key.privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('derives the kid as the RFC 7638 SHA-256 thumbprint of the public key', () => {
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key.kid).toBe(rfc7638Thumbprint(key.publicJwk));
  });

  it('derives the same kid every time the same key is loaded', async () => {
    const again = await loadSigningKey(pem);
    expect(again.kid).toBe(key.kid);
  });

  it('derives different kids for different keys', async () => {
    const other = await loadSigningKey(otherPem);
    expect(other.kid).not.toBe(key.kid);
  });

  it('uses an explicit kid when one is given', async () => {
    const named = await loadSigningKey(pem, 'key-2030-01');
    expect(named.kid).toBe('key-2030-01');
    expect(named.publicJwk.kid).toBe('key-2030-01');
  });

  it('publishes only the public half, marked for RS256 signatures', () => {
    expect(key.publicJwk).toEqual(
      expect.objectContaining({ kty: 'RSA', kid: key.kid, use: 'sig', alg: SIGNING_ALGORITHM }),
    );
    expect(SIGNING_ALGORITHM).toBe('RS256');
    for (const privatePart of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
      expect(key.publicJwk).not.toHaveProperty(privatePart);
    }
  });

  it('refuses a non-RSA key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(loadSigningKey(ecPem)).rejects.toThrow(SigningKeyError);
    await expect(loadSigningKey(ecPem)).rejects.toThrow(/RSA key, got ec/);
  });

  it('refuses an RSA key smaller than 2048 bits', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const smallPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(loadSigningKey(smallPem)).rejects.toThrow(SigningKeyError);
    await expect(loadSigningKey(smallPem)).rejects.toThrow(/1024 bits; at least 2048/);
  });

  it('refuses text that is not a PEM private key', async () => {
    await expect(loadSigningKey('not a key at all')).rejects.toThrow(SigningKeyError);
    await expect(loadSigningKey('not a key at all')).rejects.toThrow(/not a PEM private key/);
  });

  it('refuses a public key PEM', async () => {
    const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await expect(loadSigningKey(publicPem)).rejects.toThrow(SigningKeyError);
  });
});

describe('generateDevelopmentKeyPem', () => {
  it('produces a PKCS#8 PEM that loadSigningKey accepts', async () => {
    const pem = generateDevelopmentKeyPem();
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    await expect(loadSigningKey(pem)).resolves.toEqual(expect.objectContaining({ kid: expect.any(String) }));
  });
});

describe('toJwks', () => {
  it('lists the public JWK of every key in order', async () => {
    const first = await loadSigningKey(generateDevelopmentKeyPem(), 'first');
    const second = await loadSigningKey(generateDevelopmentKeyPem(), 'second');
    const jwks = toJwks([first, second]);
    expect(jwks.keys.map((jwk) => jwk.kid)).toEqual(['first', 'second']);
    expect(jwks.keys[0]).toBe(first.publicJwk);
    expect(toJwks([])).toEqual({ keys: [] });
  });
});
