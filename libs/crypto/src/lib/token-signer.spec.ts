import { generateKeyPairSync, sign } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { AccessTokenClaims } from '@gatehouse/contracts';
import {
  generateDevelopmentKeyPem,
  loadSigningKey,
  SigningKeyError,
  toJwks,
  type SigningKey,
} from './signing-keys';
import { TokenSigner } from './token-signer';

// The real sign, wrapped so that one test can make the thread-pool signature fail.
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, sign: jest.fn(actual.sign) };
});

const ISSUER = 'gatehouse-test';
const AUDIENCE = 'gatehouse-api-test';
const NOW = new Date('2030-01-01T00:00:00Z');
const ISSUED_AT = Math.floor(NOW.getTime() / 1000);
const EXPIRES_AT = ISSUED_AT + 1800;

const CLAIMS: AccessTokenClaims = {
  org: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
  api_key_id: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
  client_id: 'ci-runner',
  permissions: ['read:findings', 'write:findings'],
  key_version: 1,
  rate_limit: { requests_per_minute: 60, burst: 10 },
};

describe('TokenSigner', () => {
  let key: SigningKey;
  let otherKey: SigningKey;
  let signer: TokenSigner;

  beforeAll(async () => {
    key = await loadSigningKey(generateDevelopmentKeyPem());
    otherKey = await loadSigningKey(generateDevelopmentKeyPem());
    signer = new TokenSigner(key, { issuer: ISSUER, audience: AUDIENCE });
  });

  it('exposes the kid of its key', () => {
    expect(signer.kid).toBe(key.kid);
  });

  it('signs an RS256 JWT whose header names the key', async () => {
    const { token } = await signer.sign(CLAIMS, 'ci-runner', ISSUED_AT, EXPIRES_AT);
    expect(token.split('.')).toHaveLength(3);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', kid: key.kid, typ: 'JWT' });
  });

  it('produces a token that verifies against the JWKS with all registered and custom claims', async () => {
    const signed = await signer.sign(CLAIMS, 'ci-runner', ISSUED_AT, EXPIRES_AT);

    const { payload, protectedHeader } = await jwtVerify(signed.token, createLocalJWKSet(toJwks([key])), {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['RS256'],
      currentDate: new Date(NOW.getTime() + 60_000),
    });

    expect(protectedHeader.kid).toBe(key.kid);
    expect(payload).toEqual({
      ...CLAIMS,
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'ci-runner',
      iat: ISSUED_AT,
      nbf: ISSUED_AT,
      exp: EXPIRES_AT,
      jti: signed.tokenId,
    });
    expect(signed.issuedAt).toBe(ISSUED_AT);
    expect(signed.expiresAt).toBe(EXPIRES_AT);
  });

  it('gives every token its own UUID jti', async () => {
    const first = await signer.sign(CLAIMS, 'ci-runner', ISSUED_AT, EXPIRES_AT);
    const second = await signer.sign(CLAIMS, 'ci-runner', ISSUED_AT, EXPIRES_AT);
    expect(first.tokenId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first.tokenId).not.toBe(second.tokenId);
  });

  it('produces a token that fails verification against a different key', async () => {
    const { token } = await signer.sign(CLAIMS, 'ci-runner', ISSUED_AT, EXPIRES_AT);
    // Same kid published, different key material: the signature must not verify.
    const impostor = { keys: [{ ...otherKey.publicJwk, kid: key.kid }] };
    await expect(
      jwtVerify(token, createLocalJWKSet(impostor), { issuer: ISSUER, audience: AUDIENCE, currentDate: NOW }),
    ).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  it('produces a token no key of another JWKS is selected for', async () => {
    const { token } = await signer.sign(CLAIMS, 'ci-runner', ISSUED_AT, EXPIRES_AT);
    await expect(
      jwtVerify(token, createLocalJWKSet(toJwks([otherKey])), { currentDate: NOW }),
    ).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('produces a token that is refused after its exp', async () => {
    const { token } = await signer.sign(CLAIMS, 'ci-runner', ISSUED_AT, EXPIRES_AT);
    await expect(
      jwtVerify(token, createLocalJWKSet(toJwks([key])), {
        currentDate: new Date((EXPIRES_AT + 1) * 1000),
      }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
  });

  it('produces a token that is refused by a verifier expecting another audience', async () => {
    const { token } = await signer.sign(CLAIMS, 'ci-runner', ISSUED_AT, EXPIRES_AT);
    await expect(
      jwtVerify(token, createLocalJWKSet(toJwks([key])), { audience: 'someone-else', currentDate: NOW }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
  });

  describe('compared with the jose SignJWT implementation it replaced', () => {
    // What TokenSigner did before it signed with node:crypto; other services verify exactly these tokens.
    const signWithJose = (
      claims: AccessTokenClaims,
      subject: string,
      issuedAt: number,
      expiresAt: number,
      tokenId: string,
    ): Promise<string> =>
      new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(subject)
        .setIssuedAt(issuedAt)
        .setNotBefore(issuedAt)
        .setExpirationTime(expiresAt)
        .setJti(tokenId)
        .sign(key.privateKey);
    const TOKEN_ID = '3f1e2d4c-5b6a-4978-8a6b-5c4d3e2f1a0b';

    it.each([
      ['an unrestricted key', CLAIMS],
      ['a key with an IP allowlist', { ...CLAIMS, allowed_ips: ['10.9.9.0/24', '2001:db8::/32'] }],
      ['no permissions', { ...CLAIMS, permissions: [] }],
      // Not a value a client_id may take today; pins UTF-8 encoding should one ever reach a claim.
      ['a non-ASCII claim value', { ...CLAIMS, client_id: 'ci-ünïcødé-✓' }],
    ])('produces the very same token as jose for %s', async (_case, claims: AccessTokenClaims) => {
      const pinned = new TokenSigner(key, { issuer: ISSUER, audience: AUDIENCE }, () => TOKEN_ID);
      const ours = await pinned.sign(claims, claims.client_id, ISSUED_AT, EXPIRES_AT);
      const theirs = await signWithJose(claims, claims.client_id, ISSUED_AT, EXPIRES_AT, TOKEN_ID);

      const [ourHeader, ourPayload] = ours.token.split('.').map((part) => Buffer.from(part, 'base64url'));
      const [theirHeader, theirPayload] = theirs.split('.').map((part) => Buffer.from(part, 'base64url'));
      // Decoded first, for a readable failure; then the whole compact token, signature included.
      expect(ourHeader.toString('utf8')).toBe(theirHeader.toString('utf8'));
      expect(ourPayload.toString('utf8')).toBe(theirPayload.toString('utf8'));
      expect(ours.token).toBe(theirs);
      expect(ours.tokenId).toBe(TOKEN_ID);
    });
  });

  describe('errors', () => {
    it('rejects with the error of a signature that fails', async () => {
      const failure = new Error('the thread pool signature failed');
      jest.mocked(sign).mockImplementationOnce((...args: unknown[]) => {
        const callback = args[3] as (error: Error | null, signature: Buffer) => void;
        setImmediate(() => callback(failure, Buffer.alloc(0)));
      });

      await expect(signer.sign(CLAIMS, 'ci-runner', ISSUED_AT, EXPIRES_AT)).rejects.toBe(failure);
    });

    it.each([
      ['a fraction', ISSUED_AT + 0.5, EXPIRES_AT],
      ['NaN', Number.NaN, EXPIRES_AT],
      ['an infinite exp', ISSUED_AT, Number.POSITIVE_INFINITY],
    ])('rejects times that are not whole seconds (%s) instead of signing them', async (_case, iat, exp) => {
      await expect(signer.sign(CLAIMS, 'ci-runner', iat, exp)).rejects.toThrow(TypeError);
    });

    it('refuses a key that is not RSA, which would sign with another algorithm under an RS256 header', () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const ecKey: SigningKey = { ...key, privateKey, publicKey };
      expect(() => new TokenSigner(ecKey, { issuer: ISSUER, audience: AUDIENCE })).toThrow(SigningKeyError);
    });
  });
});
