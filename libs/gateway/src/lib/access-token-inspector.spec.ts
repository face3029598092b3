import { generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, exportJWK, SignJWT, type JWK } from 'jose';
import { AccessTokenInspector } from './access-token-inspector';

const NOW = 1_800_000_000;
const KEY_ID = 'test-key';
const API_KEY_ID = '7f0c7c55-5a5e-4c39-9a53-0f6a2f7e3b11';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });

async function jwksOf(): Promise<{ keys: JWK[] }> {
  return { keys: [{ ...(await exportJWK(publicKey)), kid: KEY_ID, alg: 'RS256', use: 'sig' }] };
}

interface TokenOptions {
  claims?: Record<string, unknown>;
  issuer?: string;
  audience?: string;
  expiresAt?: number;
  key?: typeof privateKey;
}

function token(options: TokenOptions = {}): Promise<string> {
  return new SignJWT({
    org: 'org-1',
    api_key_id: API_KEY_ID,
    rate_limit: { requests_per_minute: 300, burst: 50 },
    ...options.claims,
  })
    .setProtectedHeader({ alg: 'RS256', kid: KEY_ID })
    .setSubject('ci')
    .setIssuer(options.issuer ?? 'gatehouse')
    .setAudience(options.audience ?? 'gatehouse-api')
    .setIssuedAt(NOW - 10)
    .setExpirationTime(options.expiresAt ?? NOW + 1800)
    .sign(options.key ?? privateKey);
}

describe('AccessTokenInspector', () => {
  let clock: number;
  let inspector: AccessTokenInspector;
  let lookups: number;

  beforeEach(async () => {
    clock = NOW;
    lookups = 0;
    const local = createLocalJWKSet(await jwksOf());
    inspector = new AccessTokenInspector({
      jwksUrl: 'http://unused.invalid/jwks',
      issuer: 'gatehouse',
      audience: 'gatehouse-api',
      clockToleranceSeconds: 5,
      keys: (header, input) => {
        lookups += 1;
        return local(header, input);
      },
      now: () => clock,
    });
  });

  it('returns the key, the organization and the rate limit of a valid token', async () => {
    await expect(inspector.inspect(await token())).resolves.toEqual({
      apiKeyId: API_KEY_ID,
      organizationId: 'org-1',
      rateLimit: { requestsPerMinute: 300, burst: 50 },
      expiresAt: NOW + 1800,
    });
  });

  it('verifies a token once and answers later requests from memory, until it expires', async () => {
    const valid = await token({ expiresAt: NOW + 60 });
    await inspector.inspect(valid);
    await inspector.inspect(valid);
    expect(lookups).toBe(1);
    clock = NOW + 66;
    await expect(inspector.inspect(valid)).resolves.toBeUndefined();
  });

  it('leaves the rate limit unset when the claim is missing or malformed', async () => {
    const withoutClaim = await token({ claims: { rate_limit: undefined } });
    await expect(inspector.inspect(withoutClaim)).resolves.toMatchObject({ rateLimit: undefined });
    const malformed = await token({ claims: { rate_limit: { requests_per_minute: -1, burst: 'x' } } });
    await expect(inspector.inspect(malformed)).resolves.toMatchObject({ rateLimit: undefined });
  });

  it.each<[string, () => Promise<string>]>([
    ['another issuer (a dashboard user)', () => token({ issuer: 'https://idp.example.com' })],
    ['another audience', () => token({ audience: 'someone-else' })],
    ['a forged signature', () => token({ key: other.privateKey })],
    ['an expired token', () => token({ expiresAt: NOW - 60 })],
    ['a token without api_key_id', () => token({ claims: { api_key_id: undefined } })],
    ['an api_key_id that is not a UUID', () => token({ claims: { api_key_id: 'not-a-uuid' } })],
  ])('vouches for nothing on %s', async (_case, make) => {
    await expect(inspector.inspect(await make())).resolves.toBeUndefined();
  });

  it('refuses what cannot be a JWT without looking up a key', async () => {
    await expect(inspector.inspect('not-a-jwt')).resolves.toBeUndefined();
    await expect(inspector.inspect(`${'a'.repeat(9000)}.b.c`)).resolves.toBeUndefined();
    expect(lookups).toBe(0);
  });

  it('accepts only RS256', async () => {
    const hs256 = await new SignJWT({ org: 'org-1', api_key_id: API_KEY_ID })
      .setProtectedHeader({ alg: 'HS256', kid: KEY_ID })
      .setIssuer('gatehouse')
      .setAudience('gatehouse-api')
      .setSubject('ci')
      .setExpirationTime(NOW + 60)
      .sign(new TextEncoder().encode('a-shared-secret-of-sufficient-length!'));
    await expect(inspector.inspect(hs256)).resolves.toBeUndefined();
  });
});
