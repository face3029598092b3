import { createPublicKey, randomUUID } from 'node:crypto';
import {
  base64url,
  generateKeyPair,
  importPKCS8,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWTHeaderParameters,
} from 'jose';
import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

type Claims = Record<string, unknown>;

interface ForgeOptions {
  /** Merged over the valid claims; a value of `undefined` removes the claim. */
  claims?: Claims;
  /** Merged over the valid header; a value of `undefined` removes the parameter. */
  header?: Partial<Record<keyof JWTHeaderParameters, unknown>>;
  key?: CryptoKey | Uint8Array;
}

/**
 * How strictly findings-service checks access tokens, called directly (no gateway): tokens are forged around
 * the real signing key to change one property at a time, and only the untouched one is accepted.
 */
describe('findings-service token checks', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let findings: string;
  let kid: string;
  let signingKey: CryptoKey;

  const finding = { rule_id: 'R1', title: 'Hard-coded secret', severity: 'high', location: { path: 'a.ts' } };
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  const validClaims = (): Claims => {
    const now = nowSeconds();
    return {
      iss: 'gatehouse-test',
      aud: 'gatehouse-test-api',
      sub: owner.client_id,
      org: owner.organization.id,
      api_key_id: owner.api_key_id,
      client_id: owner.client_id,
      permissions: ['write:findings'],
      key_version: 1,
      iat: now,
      nbf: now,
      exp: now + 600,
      jti: randomUUID(),
    };
  };

  const withoutUndefined = <T extends Record<string, unknown>>(value: T): T =>
    Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;

  const forge = (options: ForgeOptions = {}): Promise<string> => {
    const header = withoutUndefined({ alg: 'RS256', kid, typ: 'JWT', ...options.header });
    const claims = withoutUndefined({ ...validClaims(), ...options.claims });
    return new SignJWT(claims).setProtectedHeader(header).sign(options.key ?? signingKey);
  };

  const upload = (authorization: string | undefined, baseUrl = findings) =>
    request<Record<string, unknown>>(`${baseUrl}/api/v1/findings`, {
      method: 'POST',
      headers: authorization === undefined ? {} : { authorization },
      body: { findings: [finding] },
    });

  const expectError = (response: { status: number; body: unknown }, status: number, code: string) => {
    expect(response.status).toBe(status);
    expect(response.body).toEqual(
      expect.objectContaining({
        error: code,
        message: expect.any(String),
        request_id: expect.any(String),
      }),
    );
  };

  beforeAll(async () => {
    // The second and third instances have not looked up any key yet, for the last two tests.
    suite = await startSuite({ findingsInstances: 3 });
    findings = suite.findings[0].url;
    owner = await suite.bootstrap('strict');
    const jwks = await request<JSONWebKeySet>(`${suite.auth.url}/api/v1/auth/jwks`);
    expect(jwks.status).toBe(200);
    kid = jwks.body.keys[0].kid!;
    signingKey = await importPKCS8(suite.signingKeyPem, 'RS256');
  });

  afterAll(async () => {
    await suite?.stop();
  });

  it('accepts a token signed with the real key, kid, issuer and audience (control)', async () => {
    const response = await upload(`Bearer ${await forge()}`);
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ status: 'completed', results: 1 });
    const scan = await request<Record<string, unknown>>(
      `${findings}/api/v1/scans/${String(response.body['scan_id'])}`,
      {
        headers: { authorization: `Bearer ${await forge({ claims: { permissions: ['read:findings'] } })}` },
      },
    );
    expect(scan.body['uploaded_by']).toMatchObject({ kind: 'api_key', client_id: owner.client_id });
  });

  it('accepts a token that expired less than the 5 s clock tolerance ago (control)', async () => {
    const now = nowSeconds();
    const token = await forge({ claims: { iat: now - 600, nbf: now - 600, exp: now - 1 } });
    expect((await upload(`Bearer ${token}`)).status).toBe(201);
  });

  describe('refuses with 401', () => {
    it.each(['gatehouse', 'https://evil.example', ''])('a wrong issuer %p', async (iss) => {
      expectError(await upload(`Bearer ${await forge({ claims: { iss } })}`), 401, 'invalid_token');
    });

    it.each([['gatehouse-api'], ['gatehouse-test'], [['someone-else-api']]])(
      'a wrong audience %p',
      async (aud) => {
        expectError(await upload(`Bearer ${await forge({ claims: { aud } })}`), 401, 'invalid_token');
      },
    );

    it('an expired token, past the clock tolerance, as token_expired', async () => {
      const now = nowSeconds();
      const token = await forge({ claims: { iat: now - 1800, nbf: now - 1800, exp: now - 60 } });
      expectError(await upload(`Bearer ${token}`), 401, 'token_expired');
    });

    it('a token that is not valid yet (nbf beyond the tolerance)', async () => {
      const now = nowSeconds();
      const token = await forge({ claims: { iat: now, nbf: now + 120, exp: now + 600 } });
      expectError(await upload(`Bearer ${token}`), 401, 'invalid_token');
    });

    it.each([
      [
        'issued in the future',
        () => ({ iat: nowSeconds() + 120, nbf: nowSeconds(), exp: nowSeconds() + 600 }),
      ],
      ['living longer than 30 minutes', () => ({ exp: nowSeconds() + 10 * 365 * 86_400 })],
      ['without iat', () => ({ iat: undefined })],
    ])('a token %s, which auth-service never issues', async (_what, claims) => {
      expectError(await upload(`Bearer ${await forge({ claims: claims() })}`), 401, 'invalid_token');
    });

    it('a token with a critical header extension (crit)', async () => {
      const token = await new SignJWT(validClaims())
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT', crit: ['x-gatehouse'], 'x-gatehouse': 1 })
        .sign(signingKey, { crit: { 'x-gatehouse': true } });
      expectError(await upload(`Bearer ${token}`), 401, 'invalid_token');
    });

    it('a token without exp', async () => {
      expectError(
        await upload(`Bearer ${await forge({ claims: { exp: undefined } })}`),
        401,
        'invalid_token',
      );
    });

    it('a token without kid', async () => {
      expectError(
        await upload(`Bearer ${await forge({ header: { kid: undefined } })}`),
        401,
        'invalid_token',
      );
    });

    it('a token with an unknown kid', async () => {
      expectError(
        await upload(`Bearer ${await forge({ header: { kid: 'not-a-published-key' } })}`),
        401,
        'invalid_token',
      );
    });

    it('a token signed by another RSA key under the real kid', async () => {
      const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
      expectError(await upload(`Bearer ${await forge({ key: privateKey })}`), 401, 'invalid_token');
    });

    it('an unsigned alg "none" token carrying the real kid', async () => {
      const header = base64url.encode(JSON.stringify({ alg: 'none', kid, typ: 'JWT' }));
      const payload = base64url.encode(JSON.stringify(validClaims()));
      expectError(await upload(`Bearer ${header}.${payload}.`), 401, 'invalid_token');
    });

    it('an unsigned alg "none" token made by a JOSE library', async () => {
      const token = new UnsecuredJWT(validClaims()).encode();
      expectError(await upload(`Bearer ${token}`), 401, 'invalid_token');
    });

    it('an HS256 token keyed with the public key PEM (algorithm confusion)', async () => {
      const publicPem = String(createPublicKey(suite.signingKeyPem).export({ type: 'spki', format: 'pem' }));
      for (const secret of [publicPem, publicPem.trim()]) {
        const token = await forge({
          header: { alg: 'HS256' },
          key: new TextEncoder().encode(secret),
        });
        expectError(await upload(`Bearer ${token}`), 401, 'invalid_token');
      }
    });

    it('an RS256 token whose signature was swapped for another token’s', async () => {
      const [mine, other] = await Promise.all([
        forge(),
        forge({ claims: { permissions: ['read:findings'] } }),
      ]);
      const spliced = `${other.split('.').slice(0, 2).join('.')}.${mine.split('.')[2]}`;
      expectError(await upload(`Bearer ${spliced}`), 401, 'invalid_token');
    });

    it.each(['org', 'permissions', 'api_key_id', 'client_id', 'sub', 'jti', 'key_version'])(
      'a token without the %s claim',
      async (claim) => {
        const token = await forge({ claims: { [claim]: undefined } });
        expectError(await upload(`Bearer ${token}`), 401, 'invalid_token');
      },
    );

    it.each([
      ['an unknown permission', ['write:findings', 'admin:all']],
      ['only an unknown permission', ['write:*']],
      ['a permission that is not a string', ['write:findings', 42]],
      ['a permission string instead of a list', 'write:findings'],
    ])('a token with %s', async (_case, permissions) => {
      const token = await forge({ claims: { permissions } });
      expectError(await upload(`Bearer ${token}`), 401, 'invalid_token');
    });

    it('an empty org claim', async () => {
      expectError(await upload(`Bearer ${await forge({ claims: { org: '' } })}`), 401, 'invalid_token');
    });

    it.each([
      ['no Authorization header', () => Promise.resolve(undefined)],
      ['the bare token, without "Bearer"', () => forge()],
      ['another scheme', async () => `Token ${await forge()}`],
      ['Basic credentials', () => Promise.resolve(`Basic ${Buffer.from('a:b').toString('base64')}`)],
      ['"Bearer" with no token', () => Promise.resolve('Bearer ')],
    ])('%s', async (_case, authorization) => {
      expectError(await upload(await authorization()), 401, 'missing_token');
    });

    it('a token that is not a JWT', async () => {
      expectError(await upload('Bearer not.a.jwt'), 401, 'invalid_token');
    });
  });

  it('refuses a valid token with only read:findings with 403 forbidden on POST, and lets it read', async () => {
    const token = await forge({ claims: { permissions: ['read:findings'] } });
    expectError(await upload(`Bearer ${token}`), 403, 'forbidden');
    const listed = await request(`${findings}/api/v1/findings`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(listed.status).toBe(200);
  });

  it('keeps answering 401 invalid_token for unknown kids in bulk, and keeps accepting the real key', async () => {
    const statuses: string[] = [];
    for (let attempt = 0; attempt < 12; attempt += 1) {
      const response = await upload(`Bearer ${await forge({ header: { kid: `unknown-${attempt}` } })}`);
      statuses.push(`${response.status} ${String(response.body['error'])}`);
    }
    expect(statuses.filter((status) => status !== '401 invalid_token')).toEqual([]);
    // The real key was looked up (and cached) by the earlier tests.
    expect((await upload(`Bearer ${await forge()}`)).status).toBe(201);
  });

  /**
   * Forged tokens with made-up key ids must not starve real ones: a node that has not cached the real key yet
   * (fresh, after the cache age, or after a key rotation) still accepts a valid token right after them.
   */
  it('accepts a valid token on a fresh instance after ten tokens with unknown kids', async () => {
    const fresh = suite.findings[1].url;
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const token = await forge({ header: { kid: `made-up-${attempt}` } });
      expectError(await upload(`Bearer ${token}`, fresh), 401, 'invalid_token');
    }
    const response = await upload(`Bearer ${await forge()}`, fresh);
    expect(response.body).toMatchObject({ status: 'completed', results: 1 });
    expect(response.status).toBe(201);
  });

  /** When the key set cannot be fetched the client is told to retry (503), not to re-authenticate (401). */
  it('answers 503 service_unavailable when the JWKS cannot be fetched, not 401', async () => {
    await suite.auth.stop();
    const response = await upload(`Bearer ${await forge()}`, suite.findings[2].url);
    expectError(response, 503, 'service_unavailable');
  });
});
