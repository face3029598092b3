import { createPublicKey } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

/**
 * auth-service on its own, over HTTP, without the gateway in front: the public JWKS, token lifetime capped by
 * the key's expiry, last-used bookkeeping as admin-api shows it, request ids in error bodies, health.
 */
describe('auth-service directly', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let auth: string;
  let admin: string;
  let ownerToken: string;

  const authenticate = (apiKey: string, clientId: string, headers: Record<string, string> = {}) =>
    request<Record<string, unknown>>(`${auth}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, ...headers },
      body: { client_id: clientId },
    });

  const createKey = async (body: Record<string, unknown>) => {
    const response = await request<Record<string, unknown>>(`${admin}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
      body,
    });
    expect(response.status).toBe(201);
    return { id: response.body['id'] as string, secret: response.body['api_key'] as string };
  };

  const getKey = (id: string) =>
    request<Record<string, unknown>>(`${admin}/api/v1/api-keys/${id}`, {
      headers: { authorization: `Bearer ${ownerToken}` },
    });

  /** Polls admin-api until the key shows a last use; usage is flushed every 200 ms in the suite. */
  const waitForLastUse = async (id: string, deadlineMs = 5000): Promise<Record<string, unknown>> => {
    const until = Date.now() + deadlineMs;
    for (;;) {
      const response = await getKey(id);
      expect(response.status).toBe(200);
      if (response.body['last_used_at'] !== null || Date.now() > until) return response.body;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    suite = await startSuite();
    auth = suite.auth.url;
    admin = suite.admin.url;
    owner = await suite.bootstrap('auth-direct');
    const response = await authenticate(owner.api_key, owner.client_id);
    expect(response.status).toBe(200);
    ownerToken = response.body['access_token'] as string;
  });

  afterAll(async () => {
    await suite?.stop();
  });

  describe('JWKS', () => {
    it('is public, cacheable, and publishes the public half of the signing key only', async () => {
      const response = await request<JSONWebKeySet>(`${auth}/api/v1/auth/jwks`);
      expect(response.status).toBe(200);
      const cacheControl = response.headers.get('cache-control') ?? '';
      expect(cacheControl).toMatch(/\bpublic\b/);
      expect(cacheControl).toMatch(/\bmax-age=\d+/);
      expect(cacheControl).not.toMatch(/no-store|private/);

      expect(response.body.keys).toHaveLength(1);
      const [key] = response.body.keys;
      for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) {
        expect(key).not.toHaveProperty(privateMember);
      }
      expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String) });

      // The published modulus and exponent are those of the key auth-service was configured with.
      const expected = createPublicKey(suite.signingKeyPem).export({ format: 'jwk' });
      expect(key['n']).toBe(expected.n);
      expect(key['e']).toBe(expected.e);
    });

    it('needs no credential, and ignores a bogus one', async () => {
      const response = await request<JSONWebKeySet>(`${auth}/api/v1/auth/jwks`, {
        headers: { authorization: 'Bearer not-a-token', 'x-api-key': 'nope' },
      });
      expect(response.status).toBe(200);
      expect(response.body.keys).toHaveLength(1);
    });
  });

  describe('token lifetime', () => {
    it('ends a token at the expiry of a key that expires within the token lifetime', async () => {
      // Whole seconds, so the expected `exp` is exact.
      const keyExpiresAt = new Date((Math.floor(Date.now() / 1000) + 5 * 60) * 1000);
      const key = await createKey({
        name: 'short-lived',
        client_id: 'short-lived-runner',
        permissions: ['write:findings'],
        expires_at: keyExpiresAt.toISOString(),
      });

      const response = await authenticate(key.secret, 'short-lived-runner');
      expect(response.status).toBe(200);
      const token = response.body['access_token'] as string;
      const jwks = await request<JSONWebKeySet>(`${auth}/api/v1/auth/jwks`);
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.body), {
        algorithms: ['RS256'],
        issuer: 'gatehouse-test',
        audience: 'gatehouse-test-api',
      });

      expect(payload.exp).toBe(keyExpiresAt.getTime() / 1000);
      expect(payload.exp).not.toBe(payload.iat! + 1800);
      expect(payload.nbf).toBe(payload.iat);
      expect(response.body['expires_in']).toBe(payload.exp! - payload.iat!);
      expect(response.body['expires_in']).toBeGreaterThan(4 * 60);
      expect(response.body['expires_in']).toBeLessThanOrEqual(5 * 60);
    });

    it('keeps the full 1800 s lifetime for a key that expires later than that', async () => {
      const key = await createKey({
        name: 'long-lived',
        client_id: 'long-lived-runner',
        permissions: ['write:findings'],
        expires_at: new Date(Date.now() + 2 * 3600_000).toISOString(),
      });
      const response = await authenticate(key.secret, 'long-lived-runner');
      expect(response.status).toBe(200);
      const payload = decodeJwt(response.body['access_token'] as string);
      expect(payload.exp! - payload.iat!).toBe(1800);
      expect(response.body['expires_in']).toBe(1800);
    });
  });

  describe('last use', () => {
    it('shows last_used_at and last_used_ip through admin-api shortly after an authenticate', async () => {
      const key = await createKey({
        name: 'usage',
        client_id: 'usage-runner',
        permissions: ['write:findings'],
      });
      const fresh = await getKey(key.id);
      expect(fresh.body).toMatchObject({ last_used_at: null, last_used_ip: null });

      const before = Date.now();
      expect((await authenticate(key.secret, 'usage-runner')).status).toBe(200);
      const after = Date.now();

      const view = await waitForLastUse(key.id);
      expect(view['last_used_at']).toEqual(expect.any(String));
      const usedAt = Date.parse(view['last_used_at'] as string);
      expect(usedAt).toBeGreaterThanOrEqual(before - 1000);
      expect(usedAt).toBeLessThanOrEqual(after + 1000);
      expect(view['last_used_ip']).toBe('127.0.0.1');
    });

    it('records the address forwarded by the gateway (X-Forwarded-For with GATEWAY_SECRET)', async () => {
      const key = await createKey({
        name: 'forwarded',
        client_id: 'forwarded-runner',
        permissions: ['write:findings'],
      });
      const response = await authenticate(key.secret, 'forwarded-runner', {
        'x-forwarded-for': '203.0.113.7',
        'x-gatehouse-gateway-secret': suite.env['GATEWAY_SECRET'],
      });
      expect(response.status).toBe(200);
      const view = await waitForLastUse(key.id);
      expect(view['last_used_ip']).toBe('203.0.113.7');
    });

    it('ignores X-Forwarded-For from anyone else, loopback included', async () => {
      const key = await createKey({
        name: 'forged-forwarded',
        client_id: 'forged-runner',
        permissions: ['write:findings'],
      });
      const response = await authenticate(key.secret, 'forged-runner', { 'x-forwarded-for': '203.0.113.8' });
      expect(response.status).toBe(200);
      const view = await waitForLastUse(key.id);
      expect(view['last_used_ip']).toBe('127.0.0.1');
    });

    it('records nothing for a failed authenticate', async () => {
      const key = await createKey({
        name: 'unused',
        client_id: 'unused-runner',
        permissions: ['write:findings'],
      });
      expect((await authenticate(key.secret, 'someone-else')).status).toBe(401);
      // Two flush intervals and then some.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect((await getKey(key.id)).body).toMatchObject({ last_used_at: null, last_used_ip: null });
    });
  });

  describe('request ids', () => {
    it('echoes the given x-request-id in the error body and the response header', async () => {
      const requestId = 'auth-e2e-request-0001';
      const response = await request(`${auth}/api/v1/auth/m2m/authenticate`, {
        method: 'POST',
        headers: { 'x-request-id': requestId },
        body: { client_id: owner.client_id },
      });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({
        error: 'missing_api_key',
        message: expect.any(String),
        request_id: requestId,
      });
      expect(response.headers.get('x-request-id')).toBe(requestId);
    });

    it('echoes it on validation errors too', async () => {
      const requestId = 'auth-e2e:validation.0002';
      const response = await authenticate(owner.api_key, 'x', { 'x-request-id': requestId });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ error: 'validation_failed', request_id: requestId });
    });

    it('replaces an id that does not look like one, in the body and the header alike', async () => {
      const response = await request(`${auth}/api/v1/auth/m2m/authenticate`, {
        method: 'POST',
        headers: { 'x-request-id': 'bad id <script>' },
        body: { client_id: owner.client_id },
      });
      expect(response.status).toBe(401);
      const made = response.body['request_id'] as string;
      expect(made).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(response.headers.get('x-request-id')).toBe(made);
    });
  });

  describe('secrets', () => {
    it('never returns the API key in the token response, its headers or the token', async () => {
      const response = await authenticate(owner.api_key, owner.client_id);
      expect(response.status).toBe(200);
      expect(JSON.stringify(response.body)).not.toContain(owner.api_key);
      expect(JSON.stringify(response.body)).not.toContain(owner.api_key.slice(9, -4));
      for (const [, value] of response.headers) expect(value).not.toContain(owner.api_key);
      const token = response.body['access_token'] as string;
      const claims = JSON.stringify({ ...decodeProtectedHeader(token), ...decodeJwt(token) });
      expect(claims).not.toContain(owner.api_key);
      expect(claims).not.toContain(owner.api_key.slice(9, -4));
    });

    it('never echoes the API key in an error body', async () => {
      const mismatch = await authenticate(owner.api_key, 'someone-else');
      expect(mismatch.status).toBe(401);
      expect(mismatch.body['error']).toBe('client_id_mismatch');
      expect(JSON.stringify(mismatch.body)).not.toContain(owner.api_key);

      const typo = `${owner.api_key.slice(0, -1)}${owner.api_key.endsWith('a') ? 'b' : 'a'}`;
      const malformed = await authenticate(typo, owner.client_id);
      expect(malformed.status).toBe(401);
      expect(JSON.stringify(malformed.body)).not.toContain(typo);
    });
  });

  describe('health', () => {
    it('answers /health/live with 200', async () => {
      const response = await request(`${auth}/health/live`);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ status: 'ok' });
    });

    it('answers /health/ready with 200 and every check up', async () => {
      const response = await request<{ status: string; checks: Record<string, string> }>(
        `${auth}/health/ready`,
      );
      expect(response.status).toBe(200);
      expect(response.body.status).toBe('ok');
      expect(Object.keys(response.body.checks).length).toBeGreaterThan(0);
      for (const state of Object.values(response.body.checks)) expect(state).toBe('up');
    });
  });
});
