import { randomUUID } from 'node:crypto';
import { importPKCS8, SignJWT, type CryptoKey, type JSONWebKeySet } from 'jose';
import {
  request,
  startOidcIssuer,
  startSuite,
  type BootstrapOutput,
  type JsonResponse,
  type OidcIssuer,
  type RunningSuite,
} from '@gatehouse/testing';

type Body = Record<string, unknown>;

interface KeyView {
  id: string;
  client_id: string;
  api_key: string;
  status: string;
  enabled: boolean;
  allowed_ips: string[];
  key_version: number;
  [field: string]: unknown;
}

const AUDIENCE = 'gatehouse-dashboard';
const FINDING = { rule_id: 'R1', title: 'Hard-coded secret', severity: 'high', location: { path: 'a.ts' } };

/**
 * The key protections over HTTP through the gateway, on the real suite: a credential may only change keys no
 * stronger than itself; a disabled key and its tokens are refused on every node at once, and work again once
 * enabled; a key with an IP allowlist, and its tokens, are refused from anywhere else.
 */
describe('key protections', () => {
  let idp: OidcIssuer;
  let suite: RunningSuite;
  let gw: string;
  let owner: BootstrapOutput;
  let ownerToken: string;

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const authenticate = (apiKey: string, clientId: string) =>
    request<Body>(`${gw}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: { client_id: clientId },
    });

  const tokenFor = async (apiKey: string, clientId: string): Promise<string> => {
    const response = await authenticate(apiKey, clientId);
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };

  const claimsOf = (token: string): Body =>
    JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Body;

  const as = (token: string, path: string, init: { method?: string; body?: unknown } = {}) =>
    request<Body>(`${gw}${path}`, { ...init, headers: bearer(token) });

  const createKey = async (body: Body): Promise<KeyView> => {
    const response = await as(ownerToken, '/api/v1/api-keys', { method: 'POST', body });
    expect(response.status).toBe(201);
    return response.body as KeyView;
  };

  const expectError = (response: JsonResponse<unknown>, status: number, code: string) => {
    expect({ status: response.status, body: response.body }).toEqual({
      status,
      body: expect.objectContaining({
        error: code,
        message: expect.any(String),
        request_id: expect.any(String),
      }),
    });
  };

  /** Polls until `check` holds or `withinMs` passes; returns how long it took, or throws with the last answer. */
  const within = async (withinMs: number, check: () => Promise<boolean>): Promise<number> => {
    const started = Date.now();
    do {
      if (await check()) return Date.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 25));
    } while (Date.now() - started < withinMs);
    if (await check()) return Date.now() - started;
    throw new Error(`condition not met within ${withinMs} ms`);
  };

  const uploadTo = (baseUrl: string, token: string) =>
    request<Body>(`${baseUrl}/api/v1/findings`, {
      method: 'POST',
      headers: bearer(token),
      body: { findings: [FINDING] },
    });

  beforeAll(async () => {
    idp = await startOidcIssuer({ audience: AUDIENCE });
    suite = await startSuite({
      findingsInstances: 2,
      adminEnv: { OIDC_ISSUER: idp.issuer, OIDC_JWKS_URL: idp.jwksUrl, OIDC_AUDIENCE: AUDIENCE },
      // The test stands in for a proxy in front of the gateway: X-Forwarded-For names the client. Requests
      // without it are the test's own address, as before.
      gatewayEnv: { TRUSTED_PROXIES: '127.0.0.1' },
    });
    gw = suite.gateway.url;
    owner = await suite.bootstrap('protect', 'pro');
    ownerToken = await tokenFor(owner.api_key, owner.client_id);
  });

  afterAll(async () => {
    await suite?.stop();
    await idp?.close();
  });

  describe('nobody changes a key stronger than themselves', () => {
    const MUTATIONS: [string, string, unknown][] = [
      ['POST', 'rotate', { grace_period_seconds: 60 }],
      ['POST', 'rotate/finish', undefined],
      ['POST', 'revoke', undefined],
      ['DELETE', '', undefined],
      ['PUT', 'rate-limit', { requests_per_minute: 5, burst: 0 }],
      ['DELETE', 'rate-limit', undefined],
      ['POST', 'disable', undefined],
      ['POST', 'enable', undefined],
      ['PUT', 'allowed-ips', { allowed_ips: ['10.0.0.0/8'] }],
    ];
    let writer: KeyView;
    let writerToken: string;

    beforeAll(async () => {
      writer = await createKey({ name: 'keys only', client_id: 'keys-only', permissions: ['write:keys'] });
      writerToken = await tokenFor(writer.api_key, writer.client_id);
    });

    it.each(MUTATIONS)(
      '%s …/api-keys/{owner}/%s with a write:keys-only token answers 403 forbidden and changes nothing',
      async (method, action, body) => {
        const before = await as(ownerToken, `/api/v1/api-keys/${owner.api_key_id}`);
        const path = `/api/v1/api-keys/${owner.api_key_id}${action ? `/${action}` : ''}`;

        const response = await as(writerToken, path, { method, body });

        expectError(response, 403, 'forbidden');
        expect(response.body['message']).toContain('read:keys, read:findings, write:findings');
        expect(JSON.stringify(response.body)).not.toContain('gth_');
        const after = await as(ownerToken, `/api/v1/api-keys/${owner.api_key_id}`);
        expect(after.status).toBe(200);
        // Last use is written in batches after authentications (the owner's own, earlier), whenever the flush
        // comes: not something the refused request could change, and not compared.
        const unchanged = ({ last_used_at: _at, last_used_ip: _ip, ...rest }: Body) => rest;
        expect(unchanged(after.body)).toEqual(unchanged(before.body));
        expect(after.body).toMatchObject({
          status: 'active',
          enabled: true,
          key_version: 1,
          allowed_ips: [],
        });
      },
    );

    it('refuses the write:keys-only key sent directly too, and leaves the owner key working', async () => {
      const response = await request<Body>(`${gw}/api/v1/api-keys/${owner.api_key_id}/rotate`, {
        method: 'POST',
        headers: { 'x-api-key': writer.api_key },
        body: {},
      });
      expectError(response, 403, 'forbidden');
      const trail = await as(ownerToken, `/api/v1/audit-events?target_id=${owner.api_key_id}`);
      expect((trail.body['data'] as Body[]).map((event) => event['action'])).toEqual(['api_key.created']);
      expect((await authenticate(owner.api_key, owner.client_id)).status).toBe(200);
    });

    it('lets a dashboard admin, who holds every permission, rotate and disable a key holding every permission', async () => {
      const strong = await createKey({
        name: 'strong',
        client_id: 'strong',
        permissions: ['read:keys', 'write:keys', 'read:findings', 'write:findings'],
      });
      const admin = await idp.sign({ sub: 'alice', org: 'protect', role: 'admin' });
      const rotated = await as(admin, `/api/v1/api-keys/${strong.id}/rotate`, {
        method: 'POST',
        body: { grace_period_seconds: 0 },
      });
      expect(rotated.status).toBe(200);
      expect(rotated.body['api_key']).toEqual(expect.stringMatching(/^gth_live_/));
      const disabled = await as(admin, `/api/v1/api-keys/${strong.id}/disable`, { method: 'POST' });
      expect(disabled.status).toBe(200);
      expect(disabled.body).toMatchObject({ enabled: false, status: 'disabled' });

      // A member lacks write:keys: the route itself refuses.
      const member = await idp.sign({ sub: 'bob', org: 'protect', role: 'member' });
      expectError(
        await as(member, `/api/v1/api-keys/${strong.id}/enable`, { method: 'POST' }),
        403,
        'forbidden',
      );
    });
  });

  describe('disable and enable', () => {
    it("refuses a disabled key's tokens on both findings-service instances within a second, and accepts them again once enabled", async () => {
      const key = await createKey({
        name: 'pipeline',
        client_id: 'disable-me',
        permissions: ['write:findings', 'read:findings'],
      });
      const token = await tokenFor(key.api_key, key.client_id);
      for (const instance of suite.findings) expect((await uploadTo(instance.url, token)).status).toBe(201);
      // Direct key use: the gateway caches the token it exchanged the key for.
      const direct = () => request<Body>(`${gw}/api/v1/findings`, { headers: { 'x-api-key': key.api_key } });
      expect((await direct()).status).toBe(200);

      const disabled = await as(ownerToken, `/api/v1/api-keys/${key.id}/disable`, { method: 'POST' });
      expect(disabled.status).toBe(200);
      expect(disabled.body).toMatchObject({ enabled: false, status: 'disabled', state: 'disabled' });

      for (const instance of suite.findings) {
        await within(1_000, async () => (await uploadTo(instance.url, token)).status === 401);
        expectError(await uploadTo(instance.url, token), 401, 'api_key_disabled');
      }
      expectError(await direct(), 401, 'api_key_disabled');
      expectError(await direct(), 401, 'api_key_disabled');
      expectError(await authenticate(key.api_key, key.client_id), 401, 'api_key_disabled');

      // Idempotent: nothing changes and nothing more is recorded.
      expect((await as(ownerToken, `/api/v1/api-keys/${key.id}/disable`, { method: 'POST' })).status).toBe(
        200,
      );
      const listed = await as(ownerToken, '/api/v1/api-keys?status=disabled');
      const listedKeys = listed.body['data'] as Body[];
      expect(listedKeys.map((entry) => entry['id'])).toContain(key.id);
      expect(listedKeys.every((entry) => entry['status'] === 'disabled')).toBe(true);

      const enabled = await as(ownerToken, `/api/v1/api-keys/${key.id}/enable`, { method: 'POST' });
      expect(enabled.status).toBe(200);
      expect(enabled.body).toMatchObject({ enabled: true, disabled_at: null, status: 'active' });
      for (const instance of suite.findings) {
        await within(1_000, async () => (await uploadTo(instance.url, token)).status === 201);
      }
      await within(1_000, async () => (await direct()).status === 200);
      expect((await authenticate(key.api_key, key.client_id)).status).toBe(200);

      const trail = await as(ownerToken, `/api/v1/audit-events?target_id=${key.id}`);
      expect((trail.body['data'] as Body[]).map((event) => event['action'])).toEqual([
        'api_key.enabled',
        'api_key.disabled',
        'api_key.created',
      ]);
      const usage = await within(2_000, async () => {
        const page = await as(ownerToken, `/api/v1/api-keys/${key.id}/usage?outcome=api_key_disabled`);
        return (page.body['data'] as Body[]).length >= 1;
      });
      expect(usage).toBeLessThan(2_000);
    });

    it('answers 409 for a revoked key, and 404 for an unknown one', async () => {
      const key = await createKey({
        name: 'gone',
        client_id: 'revoked-then',
        permissions: ['read:findings'],
      });
      expect((await as(ownerToken, `/api/v1/api-keys/${key.id}/revoke`, { method: 'POST' })).status).toBe(
        200,
      );
      expectError(
        await as(ownerToken, `/api/v1/api-keys/${key.id}/disable`, { method: 'POST' }),
        409,
        'conflict',
      );
      expectError(
        await as(ownerToken, `/api/v1/api-keys/${key.id}/enable`, { method: 'POST' }),
        409,
        'conflict',
      );
      expectError(
        await as(ownerToken, `/api/v1/api-keys/${randomUUID()}/disable`, { method: 'POST' }),
        404,
        'not_found',
      );
    });
  });

  describe('IP allowlists', () => {
    it('refuses authenticate and direct key use from outside the list with 403 ip_not_allowed, logged', async () => {
      const key = await createKey({
        name: 'office only',
        client_id: 'office-only',
        permissions: ['read:findings'],
        allowed_ips: ['10.9.9.0/24'],
      });
      expect(key.allowed_ips).toEqual(['10.9.9.0/24']);

      expectError(await authenticate(key.api_key, key.client_id), 403, 'ip_not_allowed');
      expectError(
        await request(`${gw}/api/v1/findings`, { headers: { 'x-api-key': key.api_key } }),
        403,
        'ip_not_allowed',
      );
      await within(2_000, async () => {
        const page = await as(ownerToken, `/api/v1/api-keys/${key.id}/usage?outcome=ip_not_allowed`);
        return (page.body['data'] as Body[]).length === 2;
      });
    });

    it('issues tokens carrying the list from inside it, IPv4 and IPv6 loopback listed', async () => {
      const key = await createKey({
        name: 'local',
        client_id: 'local-only',
        permissions: ['read:findings', 'write:findings'],
        allowed_ips: ['127.0.0.1/32', '::1/128'],
      });
      const token = await tokenFor(key.api_key, key.client_id);
      expect(claimsOf(token)['allowed_ips']).toEqual(['127.0.0.1/32', '::1/128']);
      expect(claimsOf(ownerToken)).not.toHaveProperty('allowed_ips');
      expect((await uploadTo(gw, token)).status).toBe(201);
      expect((await request(`${gw}/api/v1/findings`, { headers: { 'x-api-key': key.api_key } })).status).toBe(
        200,
      );

      // A new list applies to authenticate at once (auth-service drops its cached key); the token issued before
      // carries the old list until it expires.
      const changed = await as(ownerToken, `/api/v1/api-keys/${key.id}/allowed-ips`, {
        method: 'PUT',
        body: { allowed_ips: ['10.9.9.0/24'] },
      });
      expect(changed.status).toBe(200);
      expect(changed.body['allowed_ips']).toEqual(['10.9.9.0/24']);
      await within(2_000, async () => (await authenticate(key.api_key, key.client_id)).status === 403);
      expect((await uploadTo(gw, token)).status).toBe(201);

      const trail = await as(
        ownerToken,
        `/api/v1/audit-events?target_id=${key.id}&action=api_key.allowed_ips_changed`,
      );
      expect(trail.body['data']).toEqual([
        expect.objectContaining({
          actor: `api_key:${owner.api_key_id}`,
          details: { before: ['127.0.0.1/32', '::1/128'], after: ['10.9.9.0/24'] },
        }),
      ]);

      const cleared = await as(ownerToken, `/api/v1/api-keys/${key.id}/allowed-ips`, {
        method: 'PUT',
        body: { allowed_ips: [] },
      });
      expect(cleared.body['allowed_ips']).toEqual([]);
      await within(2_000, async () => (await authenticate(key.api_key, key.client_id)).status === 200);
      expect(claimsOf(await tokenFor(key.api_key, key.client_id))).not.toHaveProperty('allowed_ips');
    });

    it('refuses bad lists with 400 validation_failed and stores nothing', async () => {
      for (const allowed_ips of [['10.0.0.0/33'], ['localhost'], ['fe80::1%eth0'], '10.0.0.0/8', [7]]) {
        const response = await as(ownerToken, '/api/v1/api-keys', {
          method: 'POST',
          body: { name: 'bad', client_id: 'bad-ips', permissions: ['read:findings'], allowed_ips },
        });
        expectError(response, 400, 'validation_failed');
      }
      const tooMany = Array.from({ length: 101 }, (_, index) => `10.0.${index}.0/24`);
      expectError(
        await as(ownerToken, `/api/v1/api-keys/${owner.api_key_id}/allowed-ips`, {
          method: 'PUT',
          body: { allowed_ips: tooMany },
        }),
        400,
        'validation_failed',
      );
      const keys = await as(ownerToken, '/api/v1/api-keys?limit=100');
      expect((keys.body['data'] as Body[]).some((entry) => entry['client_id'] === 'bad-ips')).toBe(false);
    });

    describe('tokens carrying a list, checked by findings-service and admin-api', () => {
      let kid: string;
      let signingKey: CryptoKey;

      const forge = async (allowedIps: unknown, permissions: string[]): Promise<string> => {
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({
          sub: owner.client_id,
          org: owner.organization.id,
          api_key_id: owner.api_key_id,
          client_id: owner.client_id,
          permissions,
          key_version: 1,
          rate_limit: { requests_per_minute: 300, burst: 50 },
          allowed_ips: allowedIps,
          jti: randomUUID(),
        })
          .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
          .setIssuer('gatehouse-test')
          .setAudience('gatehouse-test-api')
          .setIssuedAt(now)
          .setNotBefore(now)
          .setExpirationTime(now + 600)
          .sign(signingKey);
      };

      beforeAll(async () => {
        const jwks = await request<JSONWebKeySet>(`${suite.auth.url}/api/v1/auth/jwks`);
        kid = jwks.body.keys[0].kid!;
        signingKey = await importPKCS8(suite.signingKeyPem, 'RS256');
      });

      it('refuses a token whose list leaves out the caller with 403 ip_not_allowed, on both services', async () => {
        const elsewhere = await forge(['10.9.9.0/24', '2001:db8::/32'], ['write:findings', 'read:keys']);
        for (const instance of suite.findings)
          expectError(await uploadTo(instance.url, elsewhere), 403, 'ip_not_allowed');
        expectError(await uploadTo(gw, elsewhere), 403, 'ip_not_allowed');
        expectError(await as(elsewhere, '/api/v1/api-keys'), 403, 'ip_not_allowed');
        expectError(
          await request(`${suite.admin.url}/api/v1/api-keys`, { headers: bearer(elsewhere) }),
          403,
          'ip_not_allowed',
        );

        const here = await forge(['127.0.0.1/32', '::1/128'], ['write:findings', 'read:keys']);
        for (const instance of suite.findings) expect((await uploadTo(instance.url, here)).status).toBe(201);
        expect((await as(here, '/api/v1/api-keys')).status).toBe(200);
      });

      it('refuses a token whose list is not as auth-service writes it with 401 invalid_token', async () => {
        // Straight to the services: what the gateway makes of such a token is its own check.
        for (const claim of [[], ['10.9.9.1/24'], ['not-an-ip'], '127.0.0.1/32', [1]]) {
          const token = await forge(claim, ['write:findings', 'read:keys']);
          expectError(await uploadTo(suite.findings[0].url, token), 401, 'invalid_token');
          expectError(
            await request(`${suite.admin.url}/api/v1/api-keys`, { headers: bearer(token) }),
            401,
            'invalid_token',
          );
        }
      });
    });
  });

  describe('a secret being retired by a rotation', () => {
    it('can authenticate during the grace period, but its token creates and changes no key', async () => {
      const key = await createKey({
        name: 'pipeline admin',
        client_id: 'retiring',
        permissions: ['read:keys', 'write:keys', 'read:findings', 'write:findings'],
      });
      const rotation = await as(ownerToken, `/api/v1/api-keys/${key.id}/rotate`, {
        method: 'POST',
        body: { grace_period_seconds: 86_400 },
      });
      expect(rotation.status).toBe(200);
      const newSecret = rotation.body['api_key'] as string;

      // By design the old secret still authenticates: pipelines switch over during the grace period.
      const stale = await tokenFor(key.api_key, key.client_id);
      expect(claimsOf(stale)['key_version']).toBe(1);
      const retiring =
        'A secret being retired by a rotation cannot create or change keys; use the new secret';
      const refusals = [
        await as(stale, `/api/v1/api-keys/${key.id}/rotate`, {
          method: 'POST',
          body: { grace_period_seconds: 0 },
        }),
        await as(stale, `/api/v1/api-keys/${key.id}/rotate/finish`, { method: 'POST' }),
        await as(stale, '/api/v1/api-keys', {
          method: 'POST',
          body: { name: 'minted', client_id: 'minted-by-stale', permissions: ['read:findings'] },
        }),
        await as(stale, `/api/v1/api-keys/${key.id}/allowed-ips`, {
          method: 'PUT',
          body: { allowed_ips: ['198.51.100.0/24'] },
        }),
      ];
      for (const response of refusals) {
        expectError(response, 403, 'forbidden');
        expect(response.body['message']).toBe(retiring);
      }
      // The race of the attack: a finish and 20 rotations at once. None of them may hand out a secret.
      const raced = await Promise.all([
        as(stale, `/api/v1/api-keys/${key.id}/rotate/finish`, { method: 'POST' }),
        ...Array.from({ length: 20 }, () =>
          as(stale, `/api/v1/api-keys/${key.id}/rotate`, {
            method: 'POST',
            body: { grace_period_seconds: 0 },
          }),
        ),
      ]);
      for (const response of raced) expectError(response, 403, 'forbidden');

      const shown = await as(ownerToken, `/api/v1/api-keys/${key.id}`);
      expect(shown.body).toMatchObject({ key_version: 2, status: 'rotating', allowed_ips: [] });
      const trail = await as(ownerToken, `/api/v1/audit-events?target_id=${key.id}`);
      expect((trail.body['data'] as Body[]).map((event) => event['action'])).toEqual([
        'api_key.rotated',
        'api_key.created',
      ]);
      // The new secret works, and its token finishes the rotation the owner started.
      const current = await tokenFor(newSecret, key.client_id);
      expect(claimsOf(current)['key_version']).toBe(2);
      const finished = await as(current, `/api/v1/api-keys/${key.id}/rotate/finish`, { method: 'POST' });
      expect(finished.status).toBe(200);
      expect(finished.body).toMatchObject({ key_version: 2, status: 'active' });
    });
  });

  describe('a key sent directly to the gateway after its allowlist changed', () => {
    it("is judged by the new list within a second, not by the gateway's cached token", async () => {
      const key = await createKey({
        name: 'direct uploader',
        client_id: 'direct-allowlist',
        permissions: ['write:findings'],
      });
      const upload = () =>
        request<Body>(`${gw}/api/v1/findings`, {
          method: 'POST',
          headers: { 'x-api-key': key.api_key, 'x-forwarded-for': '203.0.113.9' },
          body: { findings: [FINDING] },
        });
      // Twice: the second is served from the token the gateway exchanged for the key and cached.
      expect((await upload()).status).toBe(201);
      expect((await upload()).status).toBe(201);

      const restricted = await as(ownerToken, `/api/v1/api-keys/${key.id}/allowed-ips`, {
        method: 'PUT',
        body: { allowed_ips: ['10.0.0.0/8'] },
      });
      expect(restricted.status).toBe(200);

      let last: JsonResponse<Body> | undefined;
      await within(1_000, async () => {
        last = await upload();
        return last.status !== 201;
      });
      expectError(last as JsonResponse<Body>, 403, 'ip_not_allowed');
      expectError(await upload(), 403, 'ip_not_allowed');
    });
  });
});
