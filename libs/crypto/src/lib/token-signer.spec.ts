import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { AccessTokenClaims } from '@gatehouse/contracts';
import { generateDevelopmentKeyPem, loadSigningKey, toJwks, type SigningKey } from './signing-keys';
import { TokenSigner } from './token-signer';

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
});
