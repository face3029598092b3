import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  errors,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWTPayload,
} from 'jose';
import { GatehouseError, ROLE_PERMISSIONS, type Clock } from '@gatehouse/contracts';
import { OrganizationDirectory } from './organization-directory';
import {
  toUserKeyResolver,
  USER_ID_MAX,
  UserTokenVerifier,
  type UserKeyResolver,
  type UserTokenVerifierOptions,
} from './user-token-verifier';

const ISSUER = 'https://idp.example.com/';
const AUDIENCE = 'gatehouse-dashboard';
const ACME_ID = '0b7d6d0e-6a43-4b8e-9f3c-3a3c0a6f1e11';
const NOW = new Date('2030-01-15T12:00:00Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);

interface SigningKey {
  privateKey: CryptoKey;
  kid: string;
  alg: string;
}

async function signingKey(alg: 'RS256' | 'ES256' | 'PS256'): Promise<SigningKey & { publicJwk: object }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { privateKey, kid, alg, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

function sign(
  key: SigningKey,
  claims: JWTPayload,
  header: { kid?: string; alg?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: header.alg ?? key.alg, kid: header.kid ?? key.kid, typ: 'JWT' })
    .sign(key.privateKey);
}

const claims = (overrides: Record<string, unknown> = {}): JWTPayload =>
  Object.fromEntries(
    Object.entries({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'user-42',
      org: 'acme',
      role: 'admin',
      iat: NOW_S - 60,
      exp: NOW_S + 300,
      jti: 'token-1',
      ...overrides,
    }).filter(([, value]) => value !== undefined),
  );

describe('UserTokenVerifier', () => {
  let rsa: SigningKey & { publicJwk: object };
  let ec: SigningKey & { publicJwk: object };
  let stranger: SigningKey & { publicJwk: object };
  let lookup: jest.Mock<Promise<string | null>, [string]>;
  const clock: Clock = { now: () => NOW };

  beforeAll(async () => {
    [rsa, ec, stranger] = await Promise.all([signingKey('RS256'), signingKey('ES256'), signingKey('RS256')]);
  });

  beforeEach(() => {
    lookup = jest.fn(async (name: string) => (name === 'acme' ? ACME_ID : null));
  });

  const verifier = (options: Partial<UserTokenVerifierOptions> = {}) =>
    new UserTokenVerifier(
      {
        issuer: ISSUER,
        jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
        audience: AUDIENCE,
        algorithms: ['RS256'],
        userClaim: 'sub',
        organizationClaim: 'org',
        roleClaim: 'role',
        clockToleranceSeconds: 5,
        ...options,
      },
      new OrganizationDirectory(lookup),
      toUserKeyResolver(createLocalJWKSet({ keys: [rsa.publicJwk, ec.publicJwk] as never })),
      clock,
    );

  const rejection = async (promise: Promise<unknown>): Promise<GatehouseError> => {
    try {
      await promise;
    } catch (error) {
      expect(error).toBeInstanceOf(GatehouseError);
      return error as GatehouseError;
    }
    throw new Error('expected the token to be refused');
  };

  it('turns a valid token into a user principal whose permissions come from the role', async () => {
    const principal = await verifier().verify(await sign(rsa, claims()));

    expect(principal).toEqual({
      kind: 'user',
      userId: 'user-42',
      role: 'admin',
      organizationId: ACME_ID,
      permissions: [...ROLE_PERMISSIONS.admin],
      subject: 'user-42',
      tokenId: 'token-1',
      expiresAt: new Date((NOW_S + 300) * 1000),
    });
    expect(lookup).toHaveBeenCalledWith('acme');
  });

  it.each(['owner', 'admin', 'member', 'viewer'] as const)(
    'maps the role %s through ROLE_PERMISSIONS',
    async (role) => {
      const principal = await verifier().verify(await sign(rsa, claims({ role })));
      expect(principal.role).toBe(role);
      expect(principal.permissions).toEqual([...ROLE_PERMISSIONS[role]]);
    },
  );

  it('ignores permissions and organization ids the token claims for itself: only the role and name count', async () => {
    const principal = await verifier().verify(
      await sign(
        rsa,
        claims({
          role: 'viewer',
          permissions: ['read:keys', 'write:keys'],
          organization_id: 'a2f0c1de-0000-4000-8000-000000000000',
        }),
      ),
    );
    expect(principal.permissions).toEqual([...ROLE_PERMISSIONS.viewer]);
    expect(principal.organizationId).toBe(ACME_ID);
  });

  it('reads the user, organization and role from configured claim names', async () => {
    const principal = await verifier({
      userClaim: 'oid',
      organizationClaim: 'https://gatehouse.example/org',
      roleClaim: 'gatehouse_role',
    }).verify(
      await sign(
        rsa,
        claims({
          org: undefined,
          role: undefined,
          oid: 'u-77',
          'https://gatehouse.example/org': 'acme',
          gatehouse_role: 'viewer',
        }),
      ),
    );
    expect(principal).toMatchObject({
      userId: 'u-77',
      subject: 'user-42',
      role: 'viewer',
      organizationId: ACME_ID,
    });
  });

  it('derives a token id from the token when the identity provider sends no jti', async () => {
    const token = await sign(rsa, claims({ jti: undefined }));
    const first = await verifier().verify(token);
    const again = await verifier().verify(token);
    expect(first.tokenId).toMatch(/^sha256:[A-Za-z0-9_-]{32}$/);
    expect(again.tokenId).toBe(first.tokenId);
  });

  it('accepts every allow-listed algorithm with a key of the matching type', async () => {
    const principal = await verifier({ algorithms: ['RS256', 'ES256'] }).verify(await sign(ec, claims()));
    expect(principal.userId).toBe('user-42');
  });

  it.each([
    ['a wrong audience', { aud: 'another-api' }, 'invalid_token'],
    ['no audience', { aud: undefined }, 'invalid_token'],
    ['a wrong issuer', { iss: 'https://evil.example.com/' }, 'invalid_token'],
    ['an issuer differing by a trailing slash', { iss: 'https://idp.example.com' }, 'invalid_token'],
    ['an expiry past the tolerance', { exp: NOW_S - 6 }, 'token_expired'],
    ['no expiry', { exp: undefined }, 'invalid_token'],
    ['a not-before beyond the tolerance', { nbf: NOW_S + 6 }, 'invalid_token'],
    ['no user claim', { sub: undefined }, 'invalid_token'],
    ['an empty user claim', { sub: '' }, 'invalid_token'],
    ['a user id longer than the audit trail keeps', { sub: 'u'.repeat(USER_ID_MAX + 1) }, 'invalid_token'],
    ['a user id with control characters', { sub: 'user\n42' }, 'invalid_token'],
    ['no organization claim', { org: undefined }, 'invalid_token'],
    ['an organization claim that is not a string', { org: ['acme'] }, 'invalid_token'],
    ['no role claim', { role: undefined }, 'invalid_token'],
    ['an unknown role', { role: 'superuser' }, 'invalid_token'],
    ['a role in the wrong case', { role: 'Owner' }, 'invalid_token'],
    ['a role list instead of a role', { role: ['owner'] }, 'invalid_token'],
  ])('refuses a token with %s (%s)', async (_what, overrides, code) => {
    const error = await rejection(verifier().verify(await sign(rsa, claims(overrides))));
    expect(error.code).toBe(code);
    expect(error.status).toBe(401);
  });

  it('accepts a token expired or not yet valid within the clock tolerance', async () => {
    await expect(verifier().verify(await sign(rsa, claims({ exp: NOW_S - 4 })))).resolves.toBeDefined();
    await expect(verifier().verify(await sign(rsa, claims({ nbf: NOW_S + 4 })))).resolves.toBeDefined();
  });

  it('refuses an organization Gatehouse does not know with 403', async () => {
    const error = await rejection(verifier().verify(await sign(rsa, claims({ org: 'initech' }))));
    expect(error.code).toBe('forbidden');
    expect(error.status).toBe(403);
    expect(error.message).toContain('"initech"');
  });

  it.each([
    ['a NUL', 'acme\u0000'],
    ['a lone surrogate', 'acme\uD800'],
    ['upper case', 'ACME'],
    ['a name longer than any organization has', 'a'.repeat(41)],
  ])('refuses an organization claim with %s with 403, without looking it up', async (_what, org) => {
    const error = await rejection(verifier().verify(await sign(rsa, claims({ org }))));
    expect(error.code).toBe('forbidden');
    expect(lookup).not.toHaveBeenCalled();
  });

  it('refuses a user id with a lone surrogate (the audit trail could not store it as sent)', async () => {
    const error = await rejection(verifier().verify(await sign(rsa, claims({ sub: 'user\uDC00' }))));
    expect(error.code).toBe('invalid_token');
  });

  it('refuses an algorithm outside the allow-list before looking for a key', async () => {
    const keys = jest.fn<ReturnType<UserKeyResolver>, Parameters<UserKeyResolver>>();
    const strict = new UserTokenVerifier(
      {
        issuer: ISSUER,
        jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
        audience: AUDIENCE,
        algorithms: ['RS256'],
        userClaim: 'sub',
        organizationClaim: 'org',
        roleClaim: 'role',
        clockToleranceSeconds: 5,
      },
      new OrganizationDirectory(lookup),
      keys,
      clock,
    );
    const error = await rejection(strict.verify(await sign(ec, claims())));
    expect(error.code).toBe('invalid_token');
    expect(error.message).toContain('RS256');
    expect(keys).not.toHaveBeenCalled();
  });

  it('refuses HS256 tokens, whatever secret signed them', async () => {
    const secret = new TextEncoder().encode('a-shared-secret-that-nobody-should-use-1234');
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(secret);
    const error = await rejection(verifier({ algorithms: ['RS256', 'ES256'] }).verify(token));
    expect(error.code).toBe('invalid_token');
  });

  it('refuses unsigned tokens (alg none)', async () => {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const token = `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims())}.`;
    const error = await rejection(verifier().verify(token));
    expect(error.code).toBe('invalid_token');
  });

  it('refuses a token signed by another key under the published kid', async () => {
    const error = await rejection(verifier().verify(await sign(stranger, claims(), { kid: rsa.kid })));
    expect(error.code).toBe('invalid_token');
  });

  it('refuses a token signed by a key the identity provider does not publish', async () => {
    const error = await rejection(verifier().verify(await sign(stranger, claims())));
    expect(error.code).toBe('invalid_token');
    expect(error.message).toContain('does not publish');
  });

  it('refuses tokens that are not JWTs', async () => {
    for (const token of ['', 'abc', 'a.b.c', `${'x'.repeat(10)}.${'y'.repeat(10)}`]) {
      const error = await rejection(verifier().verify(token));
      expect(error.code).toBe('invalid_token');
    }
  });

  it('does not look the organization up for a token that fails verification', async () => {
    await rejection(verifier().verify(await sign(rsa, claims({ aud: 'another-api' }))));
    await rejection(verifier().verify(await sign(rsa, claims({ role: 'root' }))));
    expect(lookup).not.toHaveBeenCalled();
  });
});

describe('toUserKeyResolver', () => {
  const header = { alg: 'RS256', kid: 'k1' };
  const token = { payload: '', signature: '' };

  it('passes a found key through', async () => {
    const key = {} as CryptoKey;
    await expect(toUserKeyResolver(async () => key)(header, token)).resolves.toBe(key);
  });

  it.each([
    ['no matching key', new errors.JWKSNoMatchingKey()],
    ['several matching keys', new errors.JWKSMultipleMatchingKeys()],
  ])('answers %s with invalid_token', async (_what, failure) => {
    const resolver = toUserKeyResolver(() => Promise.reject(failure));
    await expect(resolver(header, token)).rejects.toMatchObject({ code: 'invalid_token', status: 401 });
  });

  it.each([
    ['a timeout', new errors.JWKSTimeout()],
    ['an unreachable host', new TypeError('fetch failed')],
    ['a malformed key set', new errors.JWKSInvalid('JSON Web Key Set malformed')],
    ['an HTTP error', new errors.JOSEError('Expected 200 OK from the JSON Web Key Set HTTP response')],
  ])('answers %s with service_unavailable', async (_what, failure) => {
    const resolver = toUserKeyResolver(() => Promise.reject(failure));
    await expect(resolver(header, token)).rejects.toMatchObject({ code: 'service_unavailable', status: 503 });
  });
});
