import { SignJWT } from 'jose';
import {
  request,
  startOidcIssuer,
  startService,
  startSuite,
  type BootstrapOutput,
  type JsonResponse,
  type OidcIssuer,
  type RunningSuite,
  type TestClaims,
} from '@gatehouse/testing';

interface KeyView {
  id: string;
  client_id: string;
  status: string;
  permissions: string[];
  key_version: number;
  created_by: string;
  revoked_at: string | null;
  [field: string]: unknown;
}

interface AuditEvent {
  actor_type: string;
  actor: string;
  action: string;
  target_id: string | null;
  request_id: string | null;
}

const AUDIENCE = 'gatehouse-dashboard';

/**
 * Dashboard users through the gateway: admin-api accepts tokens of the organization's identity provider (a real
 * local OIDC issuer with a real JWKS) next to Gatehouse's own M2M tokens. The role decides the permissions, the
 * organization claim decides whose keys are visible, the audit trail names the user, and findings-service (given
 * the same OIDC_* variables) lets users read findings from viewer up and upload from member up.
 */
describe('dashboard users on admin-api', () => {
  let idp: OidcIssuer;
  let suite: RunningSuite;
  let gw: string;
  let acme: BootstrapOutput;
  let globex: BootstrapOutput;

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  /** A user token of the identity provider: `sub`, `org` and `role` plus any override. */
  const userToken = (userId: string, org: string, role: string, extra: TestClaims = {}) =>
    idp.sign({ sub: userId, org, role, ...extra });

  const createKey = (token: string, clientId: string, permissions: string[]) =>
    request<KeyView & { api_key: string }>(`${gw}/api/v1/api-keys`, {
      method: 'POST',
      headers: bearer(token),
      body: { name: clientId, client_id: clientId, permissions },
    });

  const listKeys = (token: string) =>
    request<{ data: KeyView[]; next_cursor: string | null }>(`${gw}/api/v1/api-keys?limit=100`, {
      headers: bearer(token),
    });

  const getKey = (token: string, id: string) =>
    request<KeyView>(`${gw}/api/v1/api-keys/${id}`, { headers: bearer(token) });

  const rotateKey = (token: string, id: string) =>
    request<KeyView & { api_key: string }>(`${gw}/api/v1/api-keys/${id}/rotate`, {
      method: 'POST',
      headers: bearer(token),
      body: { grace_period_seconds: 60 },
    });

  const revokeKey = (token: string, id: string) =>
    request<KeyView>(`${gw}/api/v1/api-keys/${id}/revoke`, { method: 'POST', headers: bearer(token) });

  const deleteKey = (token: string, id: string) =>
    request(`${gw}/api/v1/api-keys/${id}`, { method: 'DELETE', headers: bearer(token) });

  const auditEvents = (token: string, query: Record<string, string>) =>
    request<{ data: AuditEvent[] }>(`${gw}/api/v1/audit-events?${new URLSearchParams(query).toString()}`, {
      headers: bearer(token),
    });

  const m2mToken = async (apiKey: string, clientId: string): Promise<string> => {
    const response = await request(`${gw}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: { client_id: clientId },
    });
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
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

  beforeAll(async () => {
    idp = await startOidcIssuer({ audience: AUDIENCE });
    const oidc = { OIDC_ISSUER: idp.issuer, OIDC_JWKS_URL: idp.jwksUrl, OIDC_AUDIENCE: AUDIENCE };
    suite = await startSuite({ adminEnv: oidc, findingsEnv: oidc });
    gw = suite.gateway.url;
    [acme, globex] = await Promise.all([suite.bootstrap('acme'), suite.bootstrap('globex')]);
  });

  afterAll(async () => {
    await suite?.stop();
    await idp?.close();
  });

  it('lets an owner create, list, rotate, revoke and delete keys, recorded as user:<id>', async () => {
    const owner = await userToken('alice', 'acme', 'owner');

    const created = await createKey(owner, 'alice-ci', ['write:findings', 'read:findings']);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ client_id: 'alice-ci', created_by: 'user:alice', key_version: 1 });
    expect(created.body.api_key).toMatch(/^gth_live_/);

    const listed = await listKeys(owner);
    expect(listed.status).toBe(200);
    const ids = listed.body.data.map((key) => key.id);
    expect(ids).toEqual(expect.arrayContaining([created.body.id, acme.api_key_id]));
    expect(ids).not.toContain(globex.api_key_id);

    const rotated = await rotateKey(owner, created.body.id);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: created.body.id, key_version: 2, status: 'rotating' });
    expect(rotated.body.api_key).not.toBe(created.body.api_key);

    const revoked = await revokeKey(owner, created.body.id);
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');

    const deleted = await deleteKey(owner, created.body.id);
    expect(deleted.status).toBe(204);
    expectError(await getKey(owner, created.body.id), 404, 'not_found');

    const trail = await auditEvents(owner, { actor: 'user:alice', target_id: created.body.id });
    expect(trail.status).toBe(200);
    expect(trail.body.data.map((event) => event.action).sort()).toEqual([
      'api_key.created',
      'api_key.deleted',
      'api_key.revoked',
      'api_key.rotated',
    ]);
    for (const event of trail.body.data) {
      expect(event).toMatchObject({ actor_type: 'user', actor: 'user:alice', target_id: created.body.id });
      expect(event.request_id).toEqual(expect.any(String));
    }
  });

  it('lets an admin manage keys too, and the audit trail shows that admin as the actor', async () => {
    const admin = await userToken('bob@acme.example', 'acme', 'admin');

    const created = await createKey(admin, 'bob-deploy', ['read:keys', 'write:keys']);
    expect(created.status).toBe(201);
    expect(created.body.created_by).toBe('user:bob@acme.example');
    expect((await revokeKey(admin, created.body.id)).status).toBe(200);

    const trail = await auditEvents(admin, { target_id: created.body.id });
    expect(trail.status).toBe(200);
    expect(trail.body.data).toEqual([
      expect.objectContaining({
        action: 'api_key.revoked',
        actor_type: 'user',
        actor: 'user:bob@acme.example',
      }),
      expect.objectContaining({
        action: 'api_key.created',
        actor_type: 'user',
        actor: 'user:bob@acme.example',
      }),
    ]);
  });

  it('lets a viewer list and read keys but not create, rotate, revoke or delete them', async () => {
    const viewer = await userToken('dave', 'acme', 'viewer');

    const listed = await listKeys(viewer);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((key) => key.id)).toContain(acme.api_key_id);
    expect((await getKey(viewer, acme.api_key_id)).status).toBe(200);
    expect((await auditEvents(viewer, {})).status).toBe(200);

    expectError(await createKey(viewer, 'dave-ci', ['read:findings']), 403, 'forbidden');
    expectError(await rotateKey(viewer, acme.api_key_id), 403, 'forbidden');
    expectError(await revokeKey(viewer, acme.api_key_id), 403, 'forbidden');
    expectError(await deleteKey(viewer, acme.api_key_id), 403, 'forbidden');
    expect((await getKey(viewer, acme.api_key_id)).body.status).toBe('active');
  });

  it('does not let a member create a key with write:keys, a permission the role lacks', async () => {
    const member = await userToken('carol', 'acme', 'member');

    const refused = await createKey(member, 'carol-admin', ['read:keys', 'write:keys']);
    expectError(refused, 403, 'forbidden');
    expect(refused.body['message']).toContain('write:keys');

    expect((await listKeys(member)).status).toBe(200);
    const owner = await userToken('alice', 'acme', 'owner');
    const keys = (await listKeys(owner)).body.data;
    expect(keys.map((key) => key.client_id)).not.toContain('carol-admin');
  });

  it('confines a user to the organization their token names', async () => {
    const acmeOwner = await userToken('alice', 'acme', 'owner');
    const globexOwner = await userToken('erin', 'globex', 'owner');
    const acmeKey = await createKey(acmeOwner, 'acme-scanner', ['write:findings']);
    expect(acmeKey.status).toBe(201);

    const listed = await listKeys(globexOwner);
    expect(listed.status).toBe(200);
    const ids = listed.body.data.map((key) => key.id);
    expect(ids).toContain(globex.api_key_id);
    expect(ids).not.toContain(acmeKey.body.id);
    expect(ids).not.toContain(acme.api_key_id);

    for (const id of [acmeKey.body.id, acme.api_key_id]) {
      expectError(await getKey(globexOwner, id), 404, 'not_found');
      expectError(await rotateKey(globexOwner, id), 404, 'not_found');
      expectError(await revokeKey(globexOwner, id), 404, 'not_found');
      expectError(await deleteKey(globexOwner, id), 404, 'not_found');
    }
    // A key created by globex's owner lands in globex, whatever the body says.
    const globexKey = await createKey(globexOwner, 'globex-ci', ['read:findings']);
    expect(globexKey.status).toBe(201);
    expectError(await getKey(acmeOwner, globexKey.body.id), 404, 'not_found');

    const untouched = await getKey(acmeOwner, acmeKey.body.id);
    expect(untouched.body).toMatchObject({ status: 'active', key_version: 1 });
    const globexTrail = await auditEvents(globexOwner, { actor: 'user:erin' });
    expect(globexTrail.body.data.map((event) => event.target_id)).toEqual([globexKey.body.id]);
  });

  it('answers 403 for an organization Gatehouse does not know', async () => {
    const stranger = await userToken('mallory', 'initech', 'owner');
    const response = await request(`${gw}/api/v1/api-keys`, { headers: bearer(stranger) });
    expectError(response, 403, 'forbidden');
    expect(response.body['message']).toContain('initech');
  });

  it.each([
    ['a NUL', 'acme\u0000'],
    ['a lone surrogate', 'acme\uD800'],
    ['upper case', 'ACME'],
  ])('answers 403, never 500, for an organization claim with %s', async (_what, org) => {
    for (const method of ['GET', 'POST']) {
      const response = await request(`${gw}/api/v1/api-keys`, {
        method,
        headers: bearer(await userToken('mallory', org, 'owner')),
        body: method === 'POST' ? { name: 'n', client_id: 'nul-org', permissions: ['read:keys'] } : undefined,
      });
      expectError(response, 403, 'forbidden');
    }
  });

  describe('refuses user tokens that fail verification with 401', () => {
    let other: OidcIssuer;

    beforeAll(async () => {
      other = await startOidcIssuer({ audience: AUDIENCE });
    });

    afterAll(async () => {
      await other?.close();
    });

    const now = () => Math.floor(Date.now() / 1000);

    it.each<[string, () => Promise<string>, string, RegExp]>([
      [
        'a wrong audience',
        () => userToken('alice', 'acme', 'owner', { aud: 'another-api' }),
        'invalid_token',
        /"aud"/,
      ],
      [
        'no audience',
        () => userToken('alice', 'acme', 'owner', { aud: undefined }),
        'invalid_token',
        /"aud"/,
      ],
      [
        'an untrusted issuer',
        () => userToken('alice', 'acme', 'owner', { iss: 'https://evil.example.com' }),
        'invalid_token',
        /issuer this service does not trust/,
      ],
      [
        'Gatehouse’s issuer, signed by the identity provider',
        () => userToken('alice', 'acme', 'owner', { iss: 'gatehouse-test', aud: 'gatehouse-test-api' }),
        'invalid_token',
        /unknown key/,
      ],
      [
        'an expiry in the past',
        () => userToken('alice', 'acme', 'owner', { iat: now() - 3600, exp: now() - 600 }),
        'token_expired',
        /expired/,
      ],
      ['no expiry', () => userToken('alice', 'acme', 'owner', { exp: undefined }), 'invalid_token', /"exp"/],
      [
        'a not-before in the future',
        () => userToken('alice', 'acme', 'owner', { nbf: now() + 600 }),
        'invalid_token',
        /"nbf"/,
      ],
      [
        'an unknown role',
        () => userToken('alice', 'acme', 'superadmin'),
        'invalid_token',
        /role claim "role"/,
      ],
      [
        'no role',
        () => userToken('alice', 'acme', 'owner', { role: undefined }),
        'invalid_token',
        /role claim/,
      ],
      [
        'no organization',
        () => userToken('alice', 'acme', 'owner', { org: undefined }),
        'invalid_token',
        /organization claim "org"/,
      ],
      [
        'no user id',
        () => userToken('alice', 'acme', 'owner', { sub: undefined }),
        'invalid_token',
        /user claim "sub"/,
      ],
      [
        'HS256',
        () =>
          new SignJWT({ sub: 'alice', org: 'acme', role: 'owner' })
            .setProtectedHeader({ alg: 'HS256', kid: idp.kid })
            .setIssuer(idp.issuer)
            .setAudience(AUDIENCE)
            .setIssuedAt()
            .setExpirationTime('5m')
            .sign(new TextEncoder().encode('a-shared-secret-the-attacker-picked-123')),
        'invalid_token',
        /must be signed with one of RS256/,
      ],
      [
        'a signature by a key the identity provider does not publish',
        () => other.sign({ iss: idp.issuer, sub: 'alice', org: 'acme', role: 'owner' }),
        'invalid_token',
        /does not publish/,
      ],
      [
        'a signature by another key under the published kid',
        () => other.sign({ iss: idp.issuer, sub: 'alice', org: 'acme', role: 'owner' }, { kid: idp.kid }),
        'invalid_token',
        /^Access token is invalid$/,
      ],
      [
        'a tampered payload',
        async () => tamper(await userToken('dave', 'acme', 'viewer')),
        'invalid_token',
        /^Access token is invalid$/,
      ],
    ])('with %s', async (_what, mint, code, message) => {
      const token = await mint();
      for (const response of [
        await listKeys(token),
        await createKey(token, 'never-created', ['read:keys']),
      ]) {
        expectError(response, 401, code);
        expect((response.body as unknown as { message: string }).message).toMatch(message);
      }
    });
  });

  it('keeps accepting Gatehouse M2M tokens, recorded as api_key:<id>', async () => {
    const token = await m2mToken(acme.api_key, acme.client_id);
    const created = await createKey(token, 'acme-m2m', ['read:keys']);
    expect(created.status).toBe(201);
    expect(created.body.created_by).toBe(`api_key:${acme.api_key_id}`);

    const owner = await userToken('alice', 'acme', 'owner');
    const trail = await auditEvents(owner, { target_id: created.body.id });
    expect(trail.body.data).toEqual([
      expect.objectContaining({ actor_type: 'api_key', actor: `api_key:${acme.api_key_id}` }),
    ]);
  });

  it('reads findings on findings-service from viewer up, uploads from member up, within its organization only', async () => {
    const native = (rule: string) => ({
      findings: [{ rule_id: rule, title: 't', severity: 'low', location: { path: 'a.ts' } }],
    });
    const upload = (token: string, rule: string) =>
      request(`${gw}/api/v1/findings?repository=acme/web`, {
        method: 'POST',
        headers: bearer(token),
        body: native(rule),
      });
    const viewer = await userToken('vera', 'acme', 'viewer');
    const member = await userToken('mia', 'acme', 'member');

    expectError(await upload(viewer, 'by-viewer'), 403, 'forbidden');
    const uploaded = await upload(member, 'by-member');
    expect(uploaded.status).toBe(201);
    const scan = await request(`${gw}/api/v1/scans/${String(uploaded.body['scan_id'])}`, {
      headers: bearer(viewer),
    });
    expect(scan.body['uploaded_by']).toEqual({ kind: 'user', user_id: 'mia' });

    const listed = await request<{ data: Array<{ rule_id: string }> }>(`${gw}/api/v1/findings`, {
      headers: bearer(viewer),
    });
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((finding) => finding.rule_id)).toContain('by-member');
    // Directly too, without the gateway in between.
    expect(
      (await request(`${suite.findings[0].url}/api/v1/findings`, { headers: bearer(viewer) })).status,
    ).toBe(200);

    // Another organization's users see none of it, and its ids are 404.
    const outsider = await userToken('gus', 'globex', 'owner');
    const theirs = await request<{ data: unknown[] }>(`${gw}/api/v1/findings`, { headers: bearer(outsider) });
    expect(theirs.body.data).toEqual([]);
    expectError(
      await request(`${gw}/api/v1/scans/${String(uploaded.body['scan_id'])}`, { headers: bearer(outsider) }),
      404,
      'scan_not_found',
    );

    const m2m = await m2mToken(acme.api_key, acme.client_id);
    expect((await request(`${gw}/api/v1/findings`, { headers: bearer(m2m) })).status).toBe(200);
  });

  it('logged no unexpected error on findings-service for any of the above', () => {
    expect(suite.findings[0].output()).not.toMatch(/"context":"ErrorFilter"/);
  });

  it('logged no unexpected error on admin-api for any of the above', () => {
    expect(suite.admin.output()).not.toMatch(/"context":"ErrorFilter"/);
  });

  it('fetched the identity provider’s JWKS only a few times for all of the above', () => {
    // Cached by kid in each of the two services (admin-api, findings-service); unknown kids refetch at most once
    // per cooldown.
    expect(idp.jwksRequests).toBeGreaterThanOrEqual(2);
    expect(idp.jwksRequests).toBeLessThanOrEqual(6);
  });
});

describe('admin-api OIDC configuration', () => {
  const startFailure = async (env: Record<string, string>): Promise<string> => {
    try {
      const running = await startService('admin-api', env);
      await running.stop();
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('admin-api started although its configuration is invalid');
  };

  const complete = {
    OIDC_ISSUER: 'https://idp.example.com/',
    OIDC_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
    OIDC_AUDIENCE: AUDIENCE,
  };

  it.each([
    [
      'OIDC_JWKS_URL missing',
      { ...complete, OIDC_JWKS_URL: '' },
      'OIDC_JWKS_URL is required when OIDC_ISSUER is set',
    ],
    [
      'OIDC_AUDIENCE missing',
      { ...complete, OIDC_AUDIENCE: '' },
      'OIDC_AUDIENCE is required when OIDC_ISSUER is set',
    ],
    ['OIDC_JWKS_URL not a URL', { ...complete, OIDC_JWKS_URL: 'idp.example.com/jwks' }, 'OIDC_JWKS_URL'],
    ['an HMAC algorithm', { ...complete, OIDC_ALGORITHMS: 'RS256,HS256' }, 'OIDC_ALGORITHMS'],
    ['an unknown algorithm', { ...complete, OIDC_ALGORITHMS: 'none' }, 'OIDC_ALGORITHMS'],
    [
      'Gatehouse’s own issuer',
      { ...complete, OIDC_ISSUER: 'gatehouse' },
      'OIDC_ISSUER must differ from JWT_ISSUER',
    ],
    ['a claim name with a space', { ...complete, OIDC_ROLE_CLAIM: 'my role' }, 'OIDC_ROLE_CLAIM'],
  ])('refuses to start with %s', async (_what, env, expected) => {
    const message = await startFailure(env);
    expect(message).toContain('exited with 1 before listening');
    expect(message).toContain(expected);
  });
});

/** The payload of a signed token changed to claim the owner role; the signature no longer matches. */
function tamper(token: string): string {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...claims, role: 'owner' })).toString('base64url');
  return [header, forged, signature].join('.');
}
