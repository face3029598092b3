import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

type Body = Record<string, unknown>;

/**
 * The key lifecycle a dashboard builds on, through the gateway: plan gating, two-step rotation, the usage log,
 * expiry and the audit trail. Two findings-service nodes show that a finished rotation kills the old secret's
 * tokens everywhere.
 */
describe('key lifecycle through the gateway', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let gateway: string;
  let ownerToken: string;

  const authenticate = (apiKey: string, clientId: string, headers: Record<string, string> = {}) =>
    request<Body>(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, ...headers },
      body: { client_id: clientId },
    });

  const asOwner = (path: string, init: { method?: string; body?: unknown } = {}) =>
    request<Body>(`${gateway}${path}`, { ...init, headers: { authorization: `Bearer ${ownerToken}` } });

  const createKey = async (clientId: string, extra: Body = {}) => {
    const response = await asOwner('/api/v1/api-keys', {
      method: 'POST',
      body: { name: clientId, client_id: clientId, permissions: ['write:findings'], ...extra },
    });
    expect(response.status).toBe(201);
    return response.body as { id: string; api_key: string } & Body;
  };

  const upload = (baseUrl: string, token: string) =>
    request<Body>(`${baseUrl}/api/v1/findings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: { findings: [{ rule_id: 'R', title: 't', severity: 'low', location: { path: 'a' } }] },
    });

  const eventually = async (check: () => Promise<boolean>, deadlineMs = 15_000): Promise<boolean> => {
    const until = Date.now() + deadlineMs;
    do {
      if (await check()) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (Date.now() < until);
    return check();
  };

  beforeAll(async () => {
    suite = await startSuite({ findingsInstances: 2 });
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('lifecycle', 'pro');
    ownerToken = (await authenticate(owner.api_key, owner.client_id)).body['access_token'] as string;
  });

  afterAll(async () => {
    await suite?.stop();
  });

  describe('plans', () => {
    it('refuses key creation on the starter plan with 403 naming the plan, and allows it on pro', async () => {
      const starter = await suite.bootstrap('starter-org', 'starter');
      const token = (await authenticate(starter.api_key, starter.client_id)).body['access_token'] as string;
      const refused = await request<Body>(`${gateway}/api/v1/api-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: { name: 'ci', client_id: 'ci-runner', permissions: ['write:findings'] },
      });
      expect(refused.status).toBe(403);
      expect(refused.body['error']).toBe('plan_not_allowed');
      expect(refused.body['message']).toContain('starter');
      expect((await createKey('pro-runner')).api_key).toMatch(/^gth_live_/);
    });
  });

  describe('two-step rotation', () => {
    it('keeps both secrets working for the grace period, on the same key id', async () => {
      const key = await createKey('rotating-runner', { environment: 'test' });
      const rotated = await asOwner(`/api/v1/api-keys/${key.id}/rotate`, {
        method: 'POST',
        body: { grace_period_seconds: 3600 },
      });
      expect(rotated.status).toBe(200);
      const newSecret = rotated.body['api_key'] as string;
      expect(newSecret).toMatch(/^gth_test_/);
      expect(newSecret).not.toBe(key.api_key);
      expect(rotated.body).toMatchObject({
        id: key.id,
        client_id: 'rotating-runner',
        permissions: ['write:findings'],
        state: 'rotating',
        key_version: 2,
        rotation: { previous_preview: `gth_test_…${key.api_key.slice(-4)}` },
      });

      const withOld = await authenticate(key.api_key, 'rotating-runner');
      const withNew = await authenticate(newSecret, 'rotating-runner');
      expect(withOld.status).toBe(200);
      expect(withNew.status).toBe(200);
      expect(withOld.body['api_key_id']).toBe(key.id);
      expect(withNew.body['api_key_id']).toBe(key.id);

      const listed = await asOwner('/api/v1/api-keys?status=rotating');
      expect((listed.body['data'] as Body[]).map((entry) => entry['id'])).toEqual([key.id]);
      expect(JSON.stringify(listed.body)).not.toContain(newSecret);

      const again = await asOwner(`/api/v1/api-keys/${key.id}/rotate`, { method: 'POST', body: {} });
      expect(again.status).toBe(409);
    });

    it('finish revokes the old secret and its tokens on every node at once; the new one keeps working', async () => {
      const key = await createKey('finishing-runner');
      const rotated = await asOwner(`/api/v1/api-keys/${key.id}/rotate`, { method: 'POST', body: {} });
      const newSecret = rotated.body['api_key'] as string;
      const oldToken = (await authenticate(key.api_key, 'finishing-runner')).body['access_token'] as string;
      const newToken = (await authenticate(newSecret, 'finishing-runner')).body['access_token'] as string;
      for (const node of suite.findings) expect((await upload(node.url, oldToken)).status).toBe(201);

      const finished = await asOwner(`/api/v1/api-keys/${key.id}/rotate/finish`, { method: 'POST' });
      expect(finished.status).toBe(200);
      expect(finished.body).toMatchObject({ state: 'active', rotation: null });

      for (const node of suite.findings) {
        expect(await eventually(async () => (await upload(node.url, oldToken)).status === 401, 1000)).toBe(
          true,
        );
        expect((await upload(node.url, newToken)).status).toBe(201);
      }
      const oldSecret = await authenticate(key.api_key, 'finishing-runner');
      expect(oldSecret.status).toBe(401);
      expect(oldSecret.body['error']).toBe('api_key_revoked');
      expect((await authenticate(newSecret, 'finishing-runner')).status).toBe(200);
      expect((await asOwner(`/api/v1/api-keys/${key.id}/rotate/finish`, { method: 'POST' })).status).toBe(
        409,
      );
    });

    it('a grace period of 0 retires the old secret immediately; grace is bounded to 7 days', async () => {
      const key = await createKey('instant-runner');
      const rotated = await asOwner(`/api/v1/api-keys/${key.id}/rotate`, {
        method: 'POST',
        body: { grace_period_seconds: 0 },
      });
      expect(rotated.status).toBe(200);
      expect(rotated.body['state']).toBe('active');
      const old = await authenticate(key.api_key, 'instant-runner');
      expect(old.status).toBe(401);
      expect(old.body['error']).toBe('api_key_revoked');
      expect((await authenticate(rotated.body['api_key'] as string, 'instant-runner')).status).toBe(200);
      const tooLong = await asOwner(`/api/v1/api-keys/${key.id}/rotate`, {
        method: 'POST',
        body: { grace_period_seconds: 7 * 86400 + 1 },
      });
      expect(tooLong.status).toBe(400);
    });
  });

  describe('usage log and last use', () => {
    it('records successful and failed attempts with time, IP, user agent and outcome', async () => {
      const key = await createKey('usage-runner');
      expect(
        (await authenticate(key.api_key, 'usage-runner', { 'user-agent': 'gerion-cli/1.2' })).status,
      ).toBe(200);
      expect((await authenticate(key.api_key, 'someone-else', { 'user-agent': 'curl/8' })).status).toBe(401);

      let entries: Body[] = [];
      const recorded = await eventually(async () => {
        const usage = await asOwner(`/api/v1/api-keys/${key.id}/usage`);
        entries = usage.body['data'] as Body[];
        return entries.length === 2;
      });
      expect(recorded).toBe(true);
      expect(entries.map((entry) => entry['outcome'])).toEqual(['client_id_mismatch', 'success']);
      expect(entries[1]).toMatchObject({ ip: '127.0.0.1', user_agent: 'gerion-cli/1.2' });
      expect(typeof entries[1]['occurred_at']).toBe('string');

      const failures = await asOwner(`/api/v1/api-keys/${key.id}/usage?outcome=client_id_mismatch`);
      expect(failures.body['data']).toHaveLength(1);
      const fetched = await asOwner(`/api/v1/api-keys/${key.id}`);
      expect(fetched.body).toMatchObject({ last_used_ip: '127.0.0.1' });
      expect(fetched.body['last_used_at']).not.toBeNull();
    });
  });

  describe('expiry', () => {
    it('an expired key answers 401 key_expired, and shows expiring_soon before', async () => {
      const key = await createKey('short-lived', { expires_at: new Date(Date.now() + 2500).toISOString() });
      expect(key['expiry_status']).toBe('expiring_soon');
      const token = await authenticate(key.api_key, 'short-lived');
      expect(token.status).toBe(200);
      expect(token.body['expires_in']).toBeLessThanOrEqual(3);
      const expired = await eventually(
        async () => (await authenticate(key.api_key, 'short-lived')).body['error'] === 'key_expired',
      );
      expect(expired).toBe(true);
      // Tokens have whole-second times, so authenticate refuses during the key's last second already.
      const shown = await eventually(async () => {
        const fetched = await asOwner(`/api/v1/api-keys/${key.id}`);
        return fetched.body['status'] === 'expired' && fetched.body['expiry_status'] === 'expired';
      });
      expect(shown).toBe(true);
    });
  });

  describe('isolation', () => {
    it("answers 404 on every key route, and shows nothing, for another organization's key", async () => {
      const key = await createKey('isolated-runner');
      const other = await suite.bootstrap('intruder', 'enterprise');
      const token = (await authenticate(other.api_key, other.client_id)).body['access_token'] as string;
      const probe = (method: string, path: string, body?: unknown) =>
        request<Body>(`${gateway}${path}`, { method, headers: { authorization: `Bearer ${token}` }, body });

      const routes: [string, string, unknown?][] = [
        ['GET', `/api/v1/api-keys/${key.id}`],
        ['GET', `/api/v1/api-keys/${key.id}/usage`],
        ['POST', `/api/v1/api-keys/${key.id}/rotate`, {}],
        ['POST', `/api/v1/api-keys/${key.id}/rotate/finish`],
        ['POST', `/api/v1/api-keys/${key.id}/revoke`],
        ['DELETE', `/api/v1/api-keys/${key.id}`],
      ];
      for (const [method, path, body] of routes) {
        const response = await probe(method, path, body);
        expect({ method, path, status: response.status, error: response.body['error'] }).toEqual({
          method,
          path,
          status: 404,
          error: 'not_found',
        });
      }
      const listed = await probe('GET', '/api/v1/api-keys?limit=100');
      expect(JSON.stringify(listed.body)).not.toContain(key.id);
      const audit = await probe('GET', `/api/v1/audit-events?target_id=${key.id}`);
      expect(audit.body['data']).toEqual([]);

      const stillMine = await asOwner(`/api/v1/api-keys/${key.id}`);
      expect(stillMine.body).toMatchObject({ status: 'active' });
    });
  });

  describe('audit trail', () => {
    it('records every mutation with actor, action, target, IP and request id, and exports JSON lines', async () => {
      const key = await createKey('audited-runner');
      await asOwner(`/api/v1/api-keys/${key.id}/revoke`, { method: 'POST' });
      await asOwner(`/api/v1/api-keys/${key.id}`, { method: 'DELETE' });

      const events = await asOwner(`/api/v1/audit-events?target_id=${key.id}`);
      expect(events.status).toBe(200);
      const data = events.body['data'] as Body[];
      expect(data.map((event) => event['action'])).toEqual([
        'api_key.deleted',
        'api_key.revoked',
        'api_key.created',
      ]);
      for (const event of data) {
        expect(event).toMatchObject({
          actor_type: 'api_key',
          actor: `api_key:${owner.api_key_id}`,
          target_type: 'api_key',
          target_id: key.id,
          ip: '127.0.0.1',
        });
        expect(event['request_id']).toEqual(expect.any(String));
      }

      const onlyRevocations = await asOwner('/api/v1/audit-events?action=api_key.revoked');
      expect(
        (onlyRevocations.body['data'] as Body[]).every((event) => event['action'] === 'api_key.revoked'),
      ).toBe(true);

      const exported = await fetch(`${gateway}/api/v1/audit-events/export?target_id=${key.id}`, {
        headers: { authorization: `Bearer ${ownerToken}` },
      });
      expect(exported.status).toBe(200);
      expect(exported.headers.get('content-type')).toContain('application/x-ndjson');
      const lines = (await exported.text()).trim().split('\n');
      expect(lines.map((line) => (JSON.parse(line) as Body)['action'])).toEqual([
        'api_key.deleted',
        'api_key.revoked',
        'api_key.created',
      ]);
    });

    it('never shows another organization its events', async () => {
      const other = await suite.bootstrap('audit-other', 'pro');
      const token = (await authenticate(other.api_key, other.client_id)).body['access_token'] as string;
      const events = await request<Body>(`${gateway}/api/v1/audit-events?limit=200`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const actors = new Set((events.body['data'] as Body[]).map((event) => event['actor']));
      expect(actors.has(`api_key:${owner.api_key_id}`)).toBe(false);
      expect([...actors]).toEqual(['system:bootstrap']);
    });
  });
});
