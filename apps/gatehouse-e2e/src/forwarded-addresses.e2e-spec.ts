import { generateApiKey } from '@gatehouse/crypto';
import {
  request,
  startSuite,
  type BootstrapOutput,
  type RunningSuite,
  type ServiceProcess,
} from '@gatehouse/testing';

/**
 * The client address a trusted proxy forwards: refused by the gateway when it is not an IP address (it would be
 * stored in the audit trail and usage log, and counted by the IP block), never stored as-is by a service, and
 * counted per /64 by the IP block when it is IPv6.
 */

const AUTHENTICATE = '/api/v1/auth/m2m/authenticate';

describe('client addresses forwarded by a trusted proxy', () => {
  let suite: RunningSuite;
  let gateway: ServiceProcess;
  let owner: BootstrapOutput;
  let token: string;

  beforeAll(async () => {
    suite = await startSuite();
    // Behind a proxy it trusts (this test), with a failure limit of 3 in its own limiter buckets.
    gateway = await suite.startGateway({
      TRUSTED_PROXIES: '127.0.0.1',
      AUTH_FAILURES_PER_IP: '3',
      AUTH_FAILURE_WINDOW_SECONDS: '60',
      AUTH_FAILURE_BLOCK_SECONDS: '120',
      RATE_LIMIT_KEY_PREFIX: `${suite.env['RATE_LIMIT_KEY_PREFIX']}:forwarded`,
    });
    owner = await suite.bootstrap('forwarded-addresses');
    const response = await request(`${suite.gateway.url}${AUTHENTICATE}`, {
      method: 'POST',
      headers: { 'x-api-key': owner.api_key },
      body: { client_id: owner.client_id },
    });
    token = response.body['access_token'] as string;
  });

  afterAll(async () => {
    await suite?.stop();
  });

  let created = 0;
  function createKey(base: string, headers: Record<string, string>) {
    created += 1;
    return request(`${base}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, ...headers },
      body: {
        name: `forwarded-${created}`,
        client_id: `forwarded-${created}`,
        permissions: ['read:findings'],
      },
    });
  }

  it.each(['x'.repeat(100), 'not-an-ip', 'unknown', '1.2.3.4\u00ff', 'fe80::1%eth0'])(
    'the gateway refuses X-Forwarded-For %p with 400 bad_request, before anything is stored',
    async (forwarded) => {
      const response = await createKey(gateway.url, { 'x-forwarded-for': forwarded });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        error: 'bad_request',
        message: 'the client address forwarded by a trusted proxy is not an IP address',
        request_id: expect.any(String),
      });
    },
  );

  it('stores a valid forwarded address, and the peer when what the gateway forwards is not one', async () => {
    const viaGateway = await createKey(gateway.url, { 'x-forwarded-for': '203.0.113.9' });
    expect(viaGateway.status).toBe(201);
    // A service trusts X-Forwarded-For on a request carrying the gateway's secret; still, no garbage is stored.
    const forged = await createKey(suite.admin.url, {
      'x-forwarded-for': 'x'.repeat(100),
      'x-gatehouse-gateway-secret': suite.env['GATEWAY_SECRET'],
    });
    expect(forged.status).toBe(201);

    const audit = await request<{ data: { ip: string | null; target_id: string | null }[] }>(
      `${suite.gateway.url}/api/v1/audit-events?limit=100`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(audit.status).toBe(200);
    const ipOf = (id: unknown) => audit.body.data.find((event) => event.target_id === id)?.ip;
    expect(ipOf(viaGateway.body['id'])).toBe('203.0.113.9');
    expect(ipOf(forged.body['id'])).toBe('127.0.0.1');
    for (const event of audit.body.data) expect(event.ip === null || event.ip.length <= 45).toBe(true);
  });

  it('counts refused credentials of an IPv6 /64 together: rotating addresses within it does not escape', async () => {
    const attempt = (address: string) =>
      request(`${gateway.url}${AUTHENTICATE}`, {
        method: 'POST',
        headers: { 'x-api-key': generateApiKey('live').secret, 'x-forwarded-for': address },
        body: { client_id: 'nobody' },
      });
    const statuses: number[] = [];
    for (let host = 1; host <= 6; host += 1) statuses.push((await attempt(`2001:db8:1:2::${host}`)).status);
    expect(statuses.slice(0, 3)).toEqual([404, 404, 404]);
    expect(statuses.slice(4)).toEqual([429, 429]);
    // Another /64 is someone else.
    expect((await attempt('2001:db8:1:3::1')).status).toBe(404);
  });
});
