import { Client } from 'pg';
import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

/**
 * PostgreSQL dropping the services' connections in the middle of requests (a failover, a restart, an operator
 * killing sessions) is a dependency failure: each request either succeeds or gets 503 service_unavailable in the
 * error shape, never a 500, and the services recover by themselves once the connections can be made again.
 */
describe('PostgreSQL dropping connections', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let token: string;
  let admin: Client;

  beforeAll(async () => {
    suite = await startSuite();
    owner = await suite.bootstrap('connection-loss');
    const response = await request(`${suite.gateway.url}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': owner.api_key },
      body: { client_id: owner.client_id },
    });
    token = response.body['access_token'] as string;
    admin = new Client({ connectionString: suite.database.url });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await suite?.stop();
  });

  /** Ends every other session on the suite's database, as `pg_terminate_backend` does in a failover drill. */
  const terminateSessions = async (): Promise<number> => {
    const result = await admin.query(
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [suite.database.name],
    );
    return (result.rows[0] as { n: number }).n;
  };

  it('answers success or 503 while sessions are killed, and works again afterwards', async () => {
    const gateway = suite.gateway.url;
    const auth = { authorization: `Bearer ${token}` };
    const finding = (n: number) => ({
      findings: Array.from({ length: 50 }, (_, index) => ({
        rule_id: `R${n}-${index}`,
        title: 'x'.repeat(200),
        severity: 'low',
        location: { path: 'a.ts', start_line: index + 1 },
      })),
    });
    const calls = (round: number) => [
      ...Array.from({ length: 8 }, (_, n) =>
        request(`${gateway}/api/v1/findings`, {
          method: 'POST',
          headers: auth,
          body: finding(round * 100 + n),
        }),
      ),
      ...Array.from({ length: 4 }, () => request(`${gateway}/api/v1/findings?limit=100`, { headers: auth })),
      ...Array.from({ length: 4 }, () => request(`${gateway}/api/v1/api-keys`, { headers: auth })),
      ...Array.from({ length: 2 }, () => request(`${gateway}/api/v1/audit-events`, { headers: auth })),
      ...Array.from({ length: 2 }, () =>
        request(`${gateway}/api/v1/api-keys`, {
          method: 'POST',
          headers: auth,
          body: {
            name: 'n',
            client_id: `loss-${round}-${Math.random().toString(36).slice(2, 10)}`,
            permissions: ['read:keys'],
          },
        }),
      ),
    ];

    const statuses: number[] = [];
    let terminated = 0;
    for (let round = 0; round < 4; round += 1) {
      // Sessions are killed again and again for as long as the requests are being served.
      let serving = true;
      const killer = (async () => {
        while (serving) {
          terminated += await terminateSessions();
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
      const responses = await Promise.all(calls(round));
      serving = false;
      await killer;
      for (const response of responses) {
        statuses.push(response.status);
        if (response.status >= 500) {
          expect({ status: response.status, body: response.body }).toEqual({
            status: 503,
            body: expect.objectContaining({ error: 'service_unavailable', request_id: expect.any(String) }),
          });
        }
      }
    }
    expect(terminated).toBeGreaterThan(0);
    expect(statuses.filter((status) => status >= 500 && status !== 503)).toEqual([]);

    // The pools make new connections by themselves: everything works again without a restart (the first request
    // after the last kill may still meet a session that was ended, and get its 503).
    const untilOk = async (send: () => Promise<{ status: number }>, status: number) => {
      let last = await send();
      for (let attempt = 0; attempt < 20 && last.status !== status; attempt += 1) {
        expect(last.status).toBe(503);
        await new Promise((resolve) => setTimeout(resolve, 100));
        last = await send();
      }
      expect(last.status).toBe(status);
    };
    await untilOk(() => request(`${gateway}/api/v1/findings`, { headers: auth }), 200);
    await untilOk(
      () => request(`${gateway}/api/v1/findings`, { method: 'POST', headers: auth, body: finding(999) }),
      201,
    );
    for (const service of [suite.auth, suite.admin, ...suite.findings])
      expect(service.child.exitCode).toBeNull();
  });
});
