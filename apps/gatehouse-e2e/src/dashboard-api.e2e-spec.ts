import {
  request,
  startOidcIssuer,
  startSuite,
  type BootstrapOutput,
  type JsonResponse,
  type OidcIssuer,
  type RunningSuite,
} from '@gatehouse/testing';

interface KeyView {
  id: string;
  name: string;
  client_id: string;
  description: string | null;
  metadata: Record<string, string>;
  [field: string]: unknown;
}

interface AuditEvent {
  actor_type: string;
  actor: string;
  action: string;
  target_id: string | null;
  details: Record<string, unknown> | null;
}

const AUDIENCE = 'gatehouse-dashboard';

/**
 * What admin-api adds for a dashboard, through the gateway: who the caller is (a user of the identity provider or
 * a key's token), relabelling a key (audited, under the rule that no credential changes a stronger one, and only
 * within its organization), and the key list's search and sort with pages that follow each other.
 */
describe('admin-api for dashboards (through the gateway)', () => {
  let idp: OidcIssuer;
  let suite: RunningSuite;
  let gw: string;
  let acme: BootstrapOutput;
  let globex: BootstrapOutput;

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const userToken = (userId: string, org: string, role: string) => idp.sign({ sub: userId, org, role });

  const m2mToken = async (apiKey: string, clientId: string): Promise<string> => {
    const response = await request(`${gw}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: { client_id: clientId },
    });
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };

  const me = (token?: string) =>
    request<Record<string, unknown>>(`${gw}/api/v1/me`, { headers: token ? bearer(token) : {} });

  const createKey = (token: string, clientId: string, permissions: string[], name = clientId) =>
    request<KeyView & { api_key: string }>(`${gw}/api/v1/api-keys`, {
      method: 'POST',
      headers: bearer(token),
      body: { name, client_id: clientId, permissions },
    });

  const patchKey = (token: string, id: string, body: unknown) =>
    request<KeyView>(`${gw}/api/v1/api-keys/${id}`, { method: 'PATCH', headers: bearer(token), body });

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
    suite = await startSuite({ adminEnv: oidc });
    gw = suite.gateway.url;
    [acme, globex] = await Promise.all([suite.bootstrap('acme'), suite.bootstrap('globex')]);
  });

  afterAll(async () => {
    await suite?.stop();
    await idp?.close();
  });

  describe('GET /api/v1/me', () => {
    it('describes a user: organization from the token, role and its permissions', async () => {
      const response = await me(await userToken('carol', 'acme', 'member'));
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        kind: 'user',
        subject: 'user:carol',
        user_id: 'carol',
        organization: { id: acme.organization.id, name: 'acme', plan: acme.organization.plan },
        role: 'member',
        permissions: ['read:keys', 'read:findings', 'write:findings'],
      });
    });

    it('describes a key token: its id and permissions, no role', async () => {
      const response = await me(await m2mToken(globex.api_key, globex.client_id));
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        kind: 'api_key',
        subject: `api_key:${globex.api_key_id}`,
        api_key_id: globex.api_key_id,
        organization: { id: globex.organization.id, name: 'globex', plan: globex.organization.plan },
        permissions: globex.permissions,
      });
    });

    it('answers 401 without a token', async () => {
      expectError(await me(), 401, 'missing_token');
    });
  });

  describe('POST /api/v1/api-keys with description and metadata', () => {
    const post = (token: string, body: Record<string, unknown>) =>
      request<KeyView & { api_key: string }>(`${gw}/api/v1/api-keys`, {
        method: 'POST',
        headers: bearer(token),
        body: { name: 'Labelled', permissions: ['read:findings'], ...body },
      });

    it('stores and returns them, and the creation is audited with them', async () => {
      const owner = await userToken('alice', 'acme', 'owner');
      const created = await post(owner, {
        client_id: 'labelled-at-birth',
        description: 'Uploads scans from main',
        metadata: { team: 'platform', ticket: 'OPS-2' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        description: 'Uploads scans from main',
        metadata: { team: 'platform', ticket: 'OPS-2' },
      });
      const read = await request<KeyView>(`${gw}/api/v1/api-keys/${created.body.id}`, {
        headers: bearer(owner),
      });
      expect(read.body).toMatchObject({
        description: 'Uploads scans from main',
        metadata: { team: 'platform', ticket: 'OPS-2' },
      });
      const trail = await request<{ data: AuditEvent[] }>(
        `${gw}/api/v1/audit-events?action=api_key.created&target_id=${created.body.id}`,
        { headers: bearer(owner) },
      );
      expect(trail.body.data).toEqual([
        expect.objectContaining({
          action: 'api_key.created',
          details: expect.objectContaining({
            description: 'Uploads scans from main',
            metadata: { team: 'platform', ticket: 'OPS-2' },
          }),
        }),
      ]);
    });

    it('refuses what PATCH refuses with 400, creating nothing', async () => {
      const owner = await userToken('alice', 'acme', 'owner');
      for (const [index, labels] of [
        { metadata: { nested: { a: 'b' } } },
        { metadata: null },
        { metadata: { 'has space': 'v' } },
        { description: 'd'.repeat(501) },
      ].entries()) {
        const clientId = `refused-labels-${index}`;
        expectError(await post(owner, { client_id: clientId, ...labels }), 400, 'validation_failed');
        const listed = await request<{ data: KeyView[] }>(`${gw}/api/v1/api-keys?q=${clientId}`, {
          headers: bearer(owner),
        });
        expect(listed.body.data).toEqual([]);
      }
    });
  });

  describe('PATCH /api/v1/api-keys/{id}', () => {
    it('renames and describes a key, and the audit trail records what changed', async () => {
      const owner = await userToken('alice', 'acme', 'owner');
      const created = await createKey(owner, 'patch-me', ['read:findings'], 'Before');
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ description: null, metadata: {} });

      const patched = await patchKey(owner, created.body.id, {
        name: 'After',
        description: 'Uploads scans from main',
        metadata: { team: 'platform', ticket: 'OPS-1' },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({
        id: created.body.id,
        name: 'After',
        description: 'Uploads scans from main',
        metadata: { team: 'platform', ticket: 'OPS-1' },
      });
      expect(JSON.stringify(patched.body)).not.toContain(created.body.api_key);

      const read = await request<KeyView>(`${gw}/api/v1/api-keys/${created.body.id}`, {
        headers: bearer(owner),
      });
      expect(read.body).toMatchObject({ name: 'After', metadata: { team: 'platform', ticket: 'OPS-1' } });

      const trail = await request<{ data: AuditEvent[] }>(
        `${gw}/api/v1/audit-events?action=api_key.updated&target_id=${created.body.id}`,
        { headers: bearer(owner) },
      );
      expect(trail.status).toBe(200);
      expect(trail.body.data).toEqual([
        expect.objectContaining({
          action: 'api_key.updated',
          actor_type: 'user',
          actor: 'user:alice',
          details: {
            name: { before: 'Before', after: 'After' },
            description: { before: null, after: 'Uploads scans from main' },
            metadata: { before: {}, after: { team: 'platform', ticket: 'OPS-1' } },
          },
        }),
      ]);
      expect(JSON.stringify(trail.body)).not.toContain(created.body.api_key);
    });

    it('refuses a viewer, and a key changing a key stronger than itself', async () => {
      const viewer = await userToken('dave', 'acme', 'viewer');
      expectError(await patchKey(viewer, acme.api_key_id, { name: 'mine' }), 403, 'forbidden');

      const owner = await userToken('alice', 'acme', 'owner');
      const weak = await createKey(owner, 'weak-keys-admin', ['read:keys', 'write:keys']);
      const weakToken = await m2mToken(weak.body.api_key, 'weak-keys-admin');
      expectError(await patchKey(weakToken, acme.api_key_id, { name: 'taken over' }), 403, 'forbidden');
      const owners = await request<KeyView>(`${gw}/api/v1/api-keys/${acme.api_key_id}`, {
        headers: bearer(owner),
      });
      expect(owners.body.name).toBe('Owner key');
      // Its own key is not stronger than itself.
      expect((await patchKey(weakToken, weak.body.id, { description: 'mine' })).status).toBe(200);
    });

    it("answers another organization's key with 404", async () => {
      const globexOwner = await userToken('gina', 'globex', 'owner');
      expectError(await patchKey(globexOwner, acme.api_key_id, { name: 'x' }), 404, 'not_found');
      const globexKeyToken = await m2mToken(globex.api_key, globex.client_id);
      expectError(await patchKey(globexKeyToken, acme.api_key_id, { name: 'x' }), 404, 'not_found');
    });

    it('refuses unknown fields, an empty body and metadata past its limits with 400', async () => {
      const owner = await userToken('alice', 'acme', 'owner');
      const id = acme.api_key_id;
      expectError(
        await patchKey(owner, id, { name: 'x', permissions: ['read:keys'] }),
        400,
        'validation_failed',
      );
      expectError(await patchKey(owner, id, {}), 400, 'validation_failed');
      expectError(await patchKey(owner, id, { metadata: { nested: { a: 'b' } } }), 400, 'validation_failed');
      expectError(await patchKey(owner, id, { description: 'd'.repeat(501) }), 400, 'validation_failed');
      expectError(await patchKey(owner, 'not-a-uuid', { name: 'x' }), 404, 'not_found');
    });
  });

  describe('GET /api/v1/api-keys search and sort', () => {
    it('walks a name search in name order across pages, each key once', async () => {
      const owner = await userToken('alice', 'acme', 'owner');
      for (const name of ['zeta build', 'alpha build', 'Mid Build', 'unrelated']) {
        const clientId = `sort-${name.split(' ')[0].toLowerCase()}`;
        expect((await createKey(owner, clientId, ['read:findings'], name)).status).toBe(201);
      }
      const names: string[] = [];
      let cursor: string | null = null;
      do {
        const query = new URLSearchParams({ q: 'BUILD', sort: 'name', order: 'asc', limit: '1' });
        if (cursor) query.set('cursor', cursor);
        const page = await request<{ data: KeyView[]; next_cursor: string | null }>(
          `${gw}/api/v1/api-keys?${query.toString()}`,
          { headers: bearer(owner) },
        );
        expect(page.status).toBe(200);
        names.push(...page.body.data.map((key) => key.name));
        cursor = page.body.next_cursor;
      } while (cursor && names.length < 10);
      expect(names).toHaveLength(3);
      expect(new Set(names)).toEqual(new Set(['alpha build', 'Mid Build', 'zeta build']));

      const first = await request<{ next_cursor: string }>(`${gw}/api/v1/api-keys?sort=name&limit=1`, {
        headers: bearer(owner),
      });
      expectError(
        await request(`${gw}/api/v1/api-keys?sort=last_used_at&cursor=${first.body.next_cursor}`, {
          headers: bearer(owner),
        }),
        400,
        'validation_failed',
      );
      expectError(
        await request(`${gw}/api/v1/api-keys?sort=secret`, { headers: bearer(owner) }),
        400,
        'validation_failed',
      );
    });
  });
});
