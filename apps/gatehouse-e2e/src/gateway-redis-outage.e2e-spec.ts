import {
  request,
  startRedisServer,
  startSuite,
  type BootstrapOutput,
  type JsonResponse,
  type RedisServer,
  type RunningSuite,
  type ServiceProcess,
} from '@gatehouse/testing';

const AUTHENTICATE = '/api/v1/auth/m2m/authenticate';
const STARTER_BUDGET = 60 + 10;

async function tokenFor(gateway: string, owner: BootstrapOutput): Promise<string> {
  const response = await request(`${gateway}${AUTHENTICATE}`, {
    method: 'POST',
    headers: { 'x-api-key': owner.api_key },
    body: { client_id: owner.client_id },
  });
  expect(response.status).toBe(200);
  return response.body['access_token'] as string;
}

function listFindings(gateway: string, token: string): Promise<JsonResponse> {
  return request(`${gateway}/api/v1/findings?limit=1`, { headers: { authorization: `Bearer ${token}` } });
}

async function decisions(gateway: ServiceProcess, store: 'shared' | 'local'): Promise<number> {
  const text = await (await fetch(`${gateway.managementUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('gatehouse_rate_limit_decisions_total{') && line.includes(`store="${store}"`)) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

/** `gatehouse_redis_connected{client}` as the app's management port reports it now. */
async function redisConnected(service: ServiceProcess, client: string): Promise<number | undefined> {
  const text = await (await fetch(`${service.managementUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (candidate) =>
        candidate.startsWith('gatehouse_redis_connected{') && candidate.includes(`client="${client}"`),
    );
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The whole suite on a Redis of its own, which the test kills and restarts: the limiter falls back to a local
 * limit per replica (never unlimited, never an error) and goes back to the shared one by itself; revocations keep
 * being enforced through the PostgreSQL reconcile.
 */
describe('Redis outage', () => {
  let redis: RedisServer;
  let suite: RunningSuite;

  beforeAll(async () => {
    redis = await startRedisServer();
    suite = await startSuite({ env: { REDIS_URL: redis.url, REVOCATION_RECONCILE_MS: '500' } });
  });

  afterAll(async () => {
    await suite?.stop();
    await redis?.kill();
  });

  it('limits locally while Redis is down, never unlimited, and returns to the shared limit when it is back', async () => {
    const owner = await suite.bootstrap('outage', 'starter');
    const token = await tokenFor(suite.gateway.url, owner);
    expect((await listFindings(suite.gateway.url, token)).status).toBe(200);
    expect(await decisions(suite.gateway, 'shared')).toBeGreaterThan(0);
    expect(await redisConnected(suite.gateway, 'rate_limit')).toBe(1);

    await redis.kill();
    const localBefore = await decisions(suite.gateway, 'local');
    const started = Date.now();
    const during = await Promise.all(
      Array.from({ length: STARTER_BUDGET + 10 }, () => listFindings(suite.gateway.url, token)),
    );
    const elapsed = Date.now() - started;
    const counts: Record<number, number> = {};
    for (const { status } of during) counts[status] = (counts[status] ?? 0) + 1;
    // The local limit is the same rule, counted from zero on this replica alone.
    expect(counts).toEqual({ 200: STARTER_BUDGET, 429: 10 });
    expect(during.every((response) => response.headers.get('x-ratelimit-limit') === '60')).toBe(true);
    expect(await decisions(suite.gateway, 'local')).toBe(localBefore + STARTER_BUDGET + 10);
    // Failing over costs no waiting on a dead Redis.
    expect(elapsed).toBeLessThan(10_000);
    await eventually(async () => (await redisConnected(suite.gateway, 'rate_limit')) === 0, 5000);
    await eventually(async () => (await redisConnected(suite.auth, 'revocation_subscriber')) === 0, 5000);

    await redis.restart();
    const sharedBefore = await decisions(suite.gateway, 'shared');
    await eventually(async () => {
      await listFindings(suite.gateway.url, token);
      return (await decisions(suite.gateway, 'shared')) > sharedBefore;
    }, 15_000);
    await eventually(async () => (await redisConnected(suite.auth, 'revocation_subscriber')) === 1, 15_000);
  });

  it('keeps enforcing revocations through the PostgreSQL reconcile while Redis is down', async () => {
    const owner = await suite.bootstrap('outage-revocation');
    const ownerToken = await tokenFor(suite.gateway.url, owner);
    const created = await request(`${suite.gateway.url}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
      body: { name: 'pipeline', client_id: 'pipeline', permissions: ['read:findings'] },
    });
    expect(created.status).toBe(201);
    const pipeline = { api_key: created.body['api_key'], client_id: 'pipeline' } as BootstrapOutput;
    const token = await tokenFor(suite.gateway.url, pipeline);
    expect((await listFindings(suite.gateway.url, token)).status).toBe(200);

    await redis.kill();
    const revoked = await request(
      `${suite.gateway.url}/api/v1/api-keys/${String(created.body['id'])}/revoke`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${ownerToken}` },
      },
    );
    expect(revoked.status).toBe(200);
    // No broadcast can arrive: findings-service learns it from PostgreSQL within its reconcile interval.
    await eventually(async () => (await listFindings(suite.gateway.url, token)).status === 401, 5000);
    await redis.restart();
  });
});
