import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

type Body = Record<string, unknown>;

const PRO_PLAN = { requests_per_minute: 300, burst: 50 };

/**
 * Per-key rate limit overrides through the gateway: admin-api stores and audits them, auth-service puts the
 * effective limit in every new token's `rate_limit` claim, and hears of a change over Redis so that a key it has
 * cached gets the new limit in its next token.
 */
describe('rate limit overrides through the gateway', () => {
  let suite: RunningSuite;
  let gateway: string;
  let owner: BootstrapOutput;
  let ownerToken: string;

  const authenticate = (apiKey: string, clientId: string) =>
    request<Body>(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: { client_id: clientId },
    });

  const tokenFor = async (apiKey: string, clientId: string): Promise<string> => {
    const response = await authenticate(apiKey, clientId);
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };

  /** The claims of a token, read the way the gateway reads them: the JWT payload, base64url JSON. */
  const claimsOf = (token: string): Body => {
    const [, payload] = token.split('.');
    return JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Body;
  };

  const as = (token: string, path: string, init: { method?: string; body?: unknown } = {}) =>
    request<Body>(`${gateway}${path}`, { ...init, headers: { authorization: `Bearer ${token}` } });

  const createKey = async (clientId: string, permissions: string[]) => {
    const response = await as(ownerToken, '/api/v1/api-keys', {
      method: 'POST',
      body: { name: clientId, client_id: clientId, permissions },
    });
    expect(response.status).toBe(201);
    return response.body as { id: string; api_key: string; client_id: string } & Body;
  };

  /** auth-service hears of the change over Redis, a moment after admin-api answered. */
  const eventuallyClaim = async (apiKey: string, clientId: string, expected: unknown): Promise<unknown> => {
    const until = Date.now() + 5_000;
    let claim: unknown;
    do {
      claim = claimsOf(await tokenFor(apiKey, clientId))['rate_limit'];
      if (JSON.stringify(claim) === JSON.stringify(expected)) return claim;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (Date.now() < until);
    return claim;
  };

  beforeAll(async () => {
    suite = await startSuite();
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('limits', 'pro');
    ownerToken = await tokenFor(owner.api_key, owner.client_id);
  });

  afterAll(async () => {
    await suite?.stop();
  });

  it("shows the plan's limit on every key, and puts it in tokens", async () => {
    const key = await createKey('plan-runner', ['write:findings']);
    expect(key['rate_limit']).toEqual({ ...PRO_PLAN, source: 'plan' });

    const fetched = await as(ownerToken, `/api/v1/api-keys/${key.id}`);
    expect(fetched.body['rate_limit']).toEqual({ ...PRO_PLAN, source: 'plan' });
    expect(claimsOf(await tokenFor(key.api_key, key.client_id))['rate_limit']).toEqual(PRO_PLAN);

    const enterprise = await suite.bootstrap('limits-enterprise', 'enterprise');
    const enterpriseToken = await tokenFor(enterprise.api_key, enterprise.client_id);
    expect(claimsOf(enterpriseToken)['rate_limit']).toEqual({ requests_per_minute: 1000, burst: 100 });
  });

  it('sets an override that the audit trail records and the next token carries; clearing restores the plan', async () => {
    const key = await createKey('override-runner', ['write:findings']);
    // Cached by auth-service from here on: only the broadcast can make its next token change.
    expect(claimsOf(await tokenFor(key.api_key, key.client_id))['rate_limit']).toEqual(PRO_PLAN);

    const set = await as(ownerToken, `/api/v1/api-keys/${key.id}/rate-limit`, {
      method: 'PUT',
      body: { requests_per_minute: 120, burst: 20 },
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      id: key.id,
      status: 'active',
      rate_limit: { requests_per_minute: 120, burst: 20, source: 'override' },
    });
    const listed = await as(ownerToken, '/api/v1/api-keys?limit=100');
    const inList = (listed.body['data'] as Body[]).find((entry) => entry['id'] === key.id);
    expect(inList?.['rate_limit']).toEqual({ requests_per_minute: 120, burst: 20, source: 'override' });

    expect(
      await eventuallyClaim(key.api_key, key.client_id, { requests_per_minute: 120, burst: 20 }),
    ).toEqual({
      requests_per_minute: 120,
      burst: 20,
    });

    const cleared = await as(ownerToken, `/api/v1/api-keys/${key.id}/rate-limit`, { method: 'DELETE' });
    expect(cleared.status).toBe(200);
    expect(cleared.body['rate_limit']).toEqual({ ...PRO_PLAN, source: 'plan' });
    expect(await eventuallyClaim(key.api_key, key.client_id, PRO_PLAN)).toEqual(PRO_PLAN);

    const trail = await as(ownerToken, `/api/v1/audit-events?target_id=${key.id}`);
    expect(trail.status).toBe(200);
    const events = trail.body['data'] as Body[];
    expect(events.map((event) => event['action'])).toEqual([
      'api_key.rate_limit_cleared',
      'api_key.rate_limit_set',
      'api_key.created',
    ]);
    const actor = {
      actor_type: 'api_key',
      actor: `api_key:${owner.api_key_id}`,
      target_type: 'api_key',
      target_id: key.id,
      ip: '127.0.0.1',
    };
    expect(events[1]).toMatchObject({
      ...actor,
      details: {
        before: { ...PRO_PLAN, source: 'plan' },
        after: { requests_per_minute: 120, burst: 20, source: 'override' },
      },
    });
    expect(events[0]).toMatchObject({
      ...actor,
      details: {
        before: { requests_per_minute: 120, burst: 20, source: 'override' },
        after: { ...PRO_PLAN, source: 'plan' },
      },
    });
    expect(events[1]['request_id']).toEqual(expect.any(String));
  });

  it('refuses a malformed override with 400, and a revoked key with 409', async () => {
    const key = await createKey('refused-runner', ['write:findings']);
    const path = `/api/v1/api-keys/${key.id}/rate-limit`;
    for (const body of [
      { requests_per_minute: 0, burst: 10 },
      { requests_per_minute: 100_001, burst: 10 },
      { requests_per_minute: 60, burst: -1 },
      { requests_per_minute: 60 },
      { requests_per_minute: 60, burst: 10, source: 'override' },
    ]) {
      const refused = await as(ownerToken, path, { method: 'PUT', body });
      expect({ body, status: refused.status, error: refused.body['error'] }).toEqual({
        body,
        status: 400,
        error: 'validation_failed',
      });
    }

    expect((await as(ownerToken, `/api/v1/api-keys/${key.id}/revoke`, { method: 'POST' })).status).toBe(200);
    const revoked = await as(ownerToken, path, {
      method: 'PUT',
      body: { requests_per_minute: 60, burst: 10 },
    });
    expect(revoked.status).toBe(409);
    expect(revoked.body['error']).toBe('conflict');
    expect((await as(ownerToken, path, { method: 'DELETE' })).status).toBe(409);
  });

  it("answers 404 to another organization, whose owner cannot see or change this organization's keys", async () => {
    const key = await createKey('guarded-runner', ['write:findings']);
    const other = await suite.bootstrap('limits-intruder', 'enterprise');
    const intruder = await tokenFor(other.api_key, other.client_id);
    const path = `/api/v1/api-keys/${key.id}/rate-limit`;

    const set = await as(intruder, path, { method: 'PUT', body: { requests_per_minute: 1, burst: 0 } });
    const cleared = await as(intruder, path, { method: 'DELETE' });

    expect([set.status, set.body['error']]).toEqual([404, 'not_found']);
    expect([cleared.status, cleared.body['error']]).toEqual([404, 'not_found']);
    const mine = await as(ownerToken, `/api/v1/api-keys/${key.id}`);
    expect(mine.body['rate_limit']).toEqual({ ...PRO_PLAN, source: 'plan' });
    const trail = await as(intruder, `/api/v1/audit-events?target_id=${key.id}`);
    expect(trail.body['data']).toEqual([]);
  });

  it('answers 403 to a key that may only read keys', async () => {
    const key = await createKey('target-runner', ['write:findings']);
    const reader = await createKey('key-reader', ['read:keys']);
    const readerToken = await tokenFor(reader.api_key, reader.client_id);
    const path = `/api/v1/api-keys/${key.id}/rate-limit`;

    const set = await as(readerToken, path, { method: 'PUT', body: { requests_per_minute: 1, burst: 0 } });
    const cleared = await as(readerToken, path, { method: 'DELETE' });

    expect([set.status, set.body['error']]).toEqual([403, 'forbidden']);
    expect([cleared.status, cleared.body['error']]).toEqual([403, 'forbidden']);
    // It may still read the key, which shows the limit unchanged.
    const read = await as(readerToken, `/api/v1/api-keys/${key.id}`);
    expect(read.status).toBe(200);
    expect(read.body['rate_limit']).toEqual({ ...PRO_PLAN, source: 'plan' });
  });
});
