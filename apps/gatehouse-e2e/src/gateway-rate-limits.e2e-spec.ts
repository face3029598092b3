import {
  request,
  startSuite,
  type BootstrapOutput,
  type JsonResponse,
  type RunningSuite,
  type ServiceProcess,
} from '@gatehouse/testing';

const AUTHENTICATE = '/api/v1/auth/m2m/authenticate';

/** Requests per window admitted for one key: the rate plus the burst. */
const STARTER_BUDGET = 60 + 10;

async function authenticate(gateway: string, owner: BootstrapOutput): Promise<JsonResponse> {
  return request(`${gateway}${AUTHENTICATE}`, {
    method: 'POST',
    headers: { 'x-api-key': owner.api_key },
    body: { client_id: owner.client_id },
  });
}

async function tokenFor(gateway: string, owner: BootstrapOutput): Promise<string> {
  const response = await authenticate(gateway, owner);
  expect(response.status).toBe(200);
  return response.body['access_token'] as string;
}

function listFindings(gateway: string, headers: Record<string, string>): Promise<JsonResponse> {
  return request(`${gateway}/api/v1/findings?limit=1`, { headers });
}

function statuses(responses: JsonResponse[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of responses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

function expectRateLimited(response: JsonResponse): number {
  expect(response.status).toBe(429);
  const retryAfter = response.body['retry_after'] as number;
  expect(response.body).toEqual({
    error: 'rate_limit_exceeded',
    message: `Too many requests. Please retry after ${retryAfter} second${retryAfter === 1 ? '' : 's'}.`,
    request_id: response.headers.get('x-request-id'),
    retry_after: retryAfter,
  });
  expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
  expect(response.headers.get('retry-after')).toBe(String(retryAfter));
  return retryAfter;
}

async function metric(service: ServiceProcess, series: string): Promise<number> {
  const text = await (await fetch(`${service.managementUrl}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : Number.NaN;
}

describe('rate limits at the gateway (two replicas, one Redis)', () => {
  let suite: RunningSuite;
  let replica: ServiceProcess;

  beforeAll(async () => {
    suite = await startSuite({
      gatewayEnv: { AUTH_RATE_LIMIT_PER_SECOND: '3', AUTH_RATE_LIMIT_BURST: '2' },
    });
    replica = await suite.startGateway();
  });

  afterAll(async () => {
    await suite?.stop();
  });

  it('limits authenticate per API key to the rate plus the burst, other keys unaffected', async () => {
    const [busy, quiet] = await Promise.all([suite.bootstrap('auth-busy'), suite.bootstrap('auth-quiet')]);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => authenticate(suite.gateway.url, busy)),
    );
    const counts = statuses(responses);
    // 3 per second plus a burst of 2: 5 in the window, 10 if the volley straddles two windows.
    expect(counts[200]).toBeGreaterThanOrEqual(5);
    expect(counts[200]).toBeLessThanOrEqual(10);
    expect(counts[429]).toBe(20 - counts[200]);
    const refused = responses.find((response) => response.status === 429) as JsonResponse;
    expectRateLimited(refused);
    expect(refused.headers.get('x-ratelimit-limit')).toBe('3');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');

    const other = await authenticate(suite.gateway.url, quiet);
    expect(other.status).toBe(200);
    expect(other.headers.get('x-ratelimit-limit')).toBe('3');
  });

  it("holds API calls of a starter organization's key to 60 a minute plus a burst of 10, across both replicas", async () => {
    const owner = await suite.bootstrap('tier-starter', 'starter');
    const token = await tokenFor(suite.gateway.url, owner);
    const auth = { authorization: `Bearer ${token}` };

    const first = await listFindings(suite.gateway.url, auth);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('60');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('59');
    const reset = Number(first.headers.get('x-ratelimit-reset'));
    const now = Date.now() / 1000;
    expect(reset).toBeGreaterThan(now);
    expect(reset).toBeLessThanOrEqual(now + 61);

    // Both replicas at once, as a load balancer would spread them.
    const gateways = [suite.gateway.url, replica.url];
    const responses = await Promise.all(
      Array.from({ length: STARTER_BUDGET + 20 }, (_, i) => listFindings(gateways[i % 2], auth)),
    );
    const counts = statuses(responses);
    expect(counts[200]).toBe(STARTER_BUDGET - 1);
    expect(counts[429]).toBe(21);
    for (const response of responses) expect(response.headers.get('x-ratelimit-limit')).toBe('60');
    expectRateLimited(responses.find((response) => response.status === 429) as JsonResponse);
    const rejected =
      'gatehouse_rate_limit_decisions_total{policy="api",decision="rejected",store="shared",gatehouse_service="api-gateway"}';
    expect((await metric(suite.gateway, rejected)) + (await metric(replica, rejected))).toBe(21);
  });

  it('gives a pro organization 300 a minute and an enterprise one 1000', async () => {
    const [pro, enterprise] = await Promise.all([
      suite.bootstrap('tier-pro', 'pro'),
      suite.bootstrap('tier-enterprise', 'enterprise'),
    ]);
    const proCall = await listFindings(suite.gateway.url, {
      authorization: `Bearer ${await tokenFor(suite.gateway.url, pro)}`,
    });
    expect(proCall.headers.get('x-ratelimit-limit')).toBe('300');
    const enterpriseCall = await listFindings(replica.url, {
      authorization: `Bearer ${await tokenFor(replica.url, enterprise)}`,
    });
    expect(enterpriseCall.headers.get('x-ratelimit-limit')).toBe('1000');
  });

  it('applies a per-key override set through admin-api on every replica at once, and audits it', async () => {
    const owner = await suite.bootstrap('tier-override');
    const ownerAuth = { authorization: `Bearer ${await tokenFor(suite.gateway.url, owner)}` };
    const created = await request(`${suite.gateway.url}/api/v1/api-keys`, {
      method: 'POST',
      headers: ownerAuth,
      body: { name: 'nightly scan', client_id: 'nightly-scan', permissions: ['read:findings'] },
    });
    expect(created.status).toBe(201);
    const pipeline = {
      api_key: created.body['api_key'] as string,
      client_id: 'nightly-scan',
    } as BootstrapOutput;
    const pipelineAuth = { authorization: `Bearer ${await tokenFor(suite.gateway.url, pipeline)}` };
    expect((await listFindings(replica.url, pipelineAuth)).headers.get('x-ratelimit-limit')).toBe('1000');

    const override = await request(
      `${suite.gateway.url}/api/v1/api-keys/${String(created.body['id'])}/rate-limit`,
      {
        method: 'PUT',
        headers: ownerAuth,
        body: { requests_per_minute: 5, burst: 0 },
      },
    );
    expect(override.status).toBe(200);

    // The token was issued before the change; the broadcast reaches both replicas within moments.
    const underOverride: JsonResponse[] = [];
    for (let attempt = 0; underOverride.length === 0 || underOverride.at(-1)?.status === 200; attempt += 1) {
      expect(attempt).toBeLessThan(200);
      const response = await listFindings(attempt % 2 ? replica.url : suite.gateway.url, pipelineAuth);
      if (response.headers.get('x-ratelimit-limit') === '5') underOverride.push(response);
    }
    expect(statuses(underOverride)).toEqual({ 200: 5, 429: 1 });
    const onReplica = await listFindings(replica.url, pipelineAuth);
    expect(onReplica.headers.get('x-ratelimit-limit')).toBe('5');
    expectRateLimited(onReplica);

    const audit = await request(
      `${suite.gateway.url}/api/v1/audit-events?target_id=${String(created.body['id'])}`,
      {
        headers: ownerAuth,
      },
    );
    const actions = (audit.body['data'] as { action: string }[]).map((event) => event.action);
    expect(actions).toContain('api_key.rate_limit_set');
  });

  describe('direct key authentication', () => {
    let owner: BootstrapOutput;

    beforeAll(async () => {
      owner = await suite.bootstrap('direct-keys');
    });

    it('accepts a key in X-API-Key or as Authorization: Bearer on the API, signing one token for many calls', async () => {
      const issued = 'gatehouse_tokens_issued_total{gatehouse_service="auth-service"}';
      const before = await metric(suite.auth, issued);
      const upload = await request(`${suite.gateway.url}/api/v1/findings`, {
        method: 'POST',
        headers: { 'x-api-key': owner.api_key },
        body: {
          findings: [
            { rule_id: 'R1', title: 'Public bucket', severity: 'high', location: { path: 'infra/s3.tf' } },
          ],
        },
      });
      expect(upload.status).toBe(201);
      for (let i = 0; i < 4; i += 1) {
        const listed = await listFindings(suite.gateway.url, { authorization: `Bearer ${owner.api_key}` });
        expect(listed.status).toBe(200);
        expect(listed.headers.get('x-ratelimit-limit')).toBe('1000');
      }
      const keys = await request(`${suite.gateway.url}/api/v1/api-keys`, {
        headers: { 'x-api-key': owner.api_key },
      });
      expect(keys.status).toBe(200);
      expect(await metric(suite.auth, issued)).toBe(before + 1);
    });

    it.each([
      ['without the Bearer scheme', (key: string) => ({ authorization: key })],
      ['in a header of another name', (key: string) => ({ 'x-api-token': key })],
    ])('refuses a key sent %s with a 401 naming the right header', async (_case, headersOf) => {
      const response = await listFindings(suite.gateway.url, headersOf(owner.api_key));
      expect(response.status).toBe(401);
      expect(response.body['error']).toBe('unauthorized');
      expect(response.body['message']).toContain('X-API-Key');
      expect(response.body['message']).toContain('Authorization: Bearer');
    });

    it('refuses a key sent to authenticate in Authorization, naming X-API-Key', async () => {
      const response = await request(`${suite.gateway.url}${AUTHENTICATE}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.api_key}` },
        body: { client_id: owner.client_id },
      });
      expect(response.status).toBe(401);
      expect(response.body['error']).toBe('missing_api_key');
      expect(response.body['message']).toContain('X-API-Key');
    });

    it("relays auth-service's refusal of an unknown key", async () => {
      const unknown = `${owner.api_key.slice(0, -12)}AAAAAAAAAAAA`;
      const response = await listFindings(suite.gateway.url, { 'x-api-key': unknown });
      expect(response.status).toBe(401);
      expect(response.body['error']).toBe('invalid_api_key');
    });

    it('stops a revoked key at once, although its token was cached', async () => {
      const ownerAuth = { authorization: `Bearer ${await tokenFor(suite.gateway.url, owner)}` };
      const created = await request(`${suite.gateway.url}/api/v1/api-keys`, {
        method: 'POST',
        headers: ownerAuth,
        body: { name: 'cli', client_id: 'cli', permissions: ['read:findings'] },
      });
      const key = created.body['api_key'] as string;
      expect((await listFindings(suite.gateway.url, { 'x-api-key': key })).status).toBe(200);
      const revoked = await request(
        `${suite.gateway.url}/api/v1/api-keys/${String(created.body['id'])}/revoke`,
        { method: 'POST', headers: ownerAuth },
      );
      expect(revoked.status).toBe(200);
      const afterRevoke = await listFindings(suite.gateway.url, { 'x-api-key': key });
      expect(afterRevoke.status).toBe(401);
      const again = await listFindings(suite.gateway.url, { 'x-api-key': key });
      expect(again.status).toBe(401);
      expect(again.body['error']).toBe('api_key_revoked');
    });
  });

  it('blocks an IP after too many refused credentials, while its valid tokens and known keys keep working', async () => {
    const owner = await suite.bootstrap('brute-force');
    const token = await tokenFor(suite.gateway.url, owner);
    const strict = await suite.startGateway({
      AUTH_FAILURES_PER_IP: '3',
      AUTH_FAILURE_WINDOW_SECONDS: '60',
      AUTH_FAILURE_BLOCK_SECONDS: '120',
      RATE_LIMIT_KEY_PREFIX: `${suite.env['RATE_LIMIT_KEY_PREFIX']}:strict`,
    });
    // A pipeline that authenticated before the attack, from the same address.
    const pipeline = await suite.bootstrap('brute-force-neighbour');
    expect((await authenticate(strict.url, pipeline)).status).toBe(200);
    const wrong = `${owner.api_key.slice(0, -12)}AAAAAAAAAAAA`;
    const attempts: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const response = await request(`${strict.url}${AUTHENTICATE}`, {
        method: 'POST',
        headers: { 'x-api-key': wrong },
        body: { client_id: owner.client_id },
      });
      attempts.push(response.status);
    }
    // Three refusals are tolerated; past them the IP is blocked before any lookup.
    expect(attempts.slice(0, 4)).toEqual([401, 401, 401, 401]);
    expect(attempts.slice(4)).toEqual([429, 429]);

    const blocked = await request(`${strict.url}${AUTHENTICATE}`, {
      method: 'POST',
      headers: { 'x-api-key': wrong },
      body: { client_id: owner.client_id },
    });
    const retryAfter = expectRateLimited(blocked);
    expect(blocked.headers.get('x-ratelimit-limit')).toBe('3');
    expect(blocked.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(blocked.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 + 60);
    expect(retryAfter).toBeGreaterThan(60);
    expect(retryAfter).toBeLessThanOrEqual(120);

    // A valid key is judged by auth-service even while the IP is blocked, and passes (gateway-trust.e2e-spec.ts).
    expect((await authenticate(strict.url, owner)).status).toBe(200);

    // A key accepted within the last 10 minutes is no guess: it keeps working.
    expect((await authenticate(strict.url, pipeline)).status).toBe(200);
    const withToken = await listFindings(strict.url, { authorization: `Bearer ${token}` });
    expect(withToken.status).toBe(200);
    const anonymous = await listFindings(strict.url, {});
    expect(anonymous.status).toBe(429);
  });
});
