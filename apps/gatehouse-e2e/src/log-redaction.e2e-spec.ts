import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

/**
 * Credentials a client puts in a URL (a token in `?access_token=`, a key in `?api_key=` or in the path) never
 * reach a log line, on the gateway nor on the services behind it, while the line still shows the request. Nor
 * does a key or token sent as X-Request-Id, which would otherwise be logged, echoed and stored as the id.
 */
describe('secrets in URLs are not logged', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let token: string;

  beforeAll(async () => {
    suite = await startSuite();
    owner = await suite.bootstrap('log-redaction');
    const response = await request(`${suite.gateway.url}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': owner.api_key },
      body: { client_id: owner.client_id },
    });
    token = response.body['access_token'] as string;
  });

  afterAll(async () => {
    await suite?.stop();
  });

  it('redacts them in every process’s output, path and query, gateway and services', async () => {
    const key = owner.api_key;
    const encodedKey = key.replace('_', '%5F');
    const marker = `logscan-${Date.now()}`;
    const sends: Array<[string, string]> = [];
    const query = `access_token=${token}&api_key=${key}&Client_Secret=hunter2-secret&limit=5`;
    for (const base of [suite.gateway.url, suite.findings[0].url]) {
      sends.push([base, `/api/v1/findings?${query}`]);
      sends.push([base, `/api/v1/findings/${token}`]);
    }
    for (const base of [suite.gateway.url, suite.admin.url]) {
      sends.push([base, `/api/v1/api-keys/${key}?${query}`]);
      sends.push([base, `/api/v1/api-keys/${encodedKey}/usage?x=${token}`]);
      sends.push([base, `/api/v1/audit-events?actor=${key}`]);
    }
    for (const base of [suite.gateway.url, suite.auth.url]) {
      sends.push([base, `/api/v1/auth/jwks?token=${token}&key=${key}`]);
    }
    for (const [index, [base, path]] of sends.entries()) {
      const response = await request(`${base}${path}`, {
        headers: { authorization: `Bearer ${token}`, 'x-request-id': `${marker}-${index}` },
      });
      expect(response.status).toBeLessThan(500);
    }

    const processes = [suite.gateway, suite.auth, suite.admin, ...suite.findings];
    // A last request straight to each process: once its line is out, every earlier line of that process is too.
    for (const service of processes) {
      await request(`${service.url}/api/v1/nothing-here`, { headers: { 'x-request-id': `${marker}-final` } });
      await service.waitForOutput(new RegExp(`${marker}-final`));
    }

    const output = processes.map((service) => service.output()).join('\n');
    expect(output).toContain(marker);
    expect(output).toContain('access_token=[redacted]');
    expect(output).toContain('/api/v1/api-keys/[redacted]');
    for (const secret of [key, key.slice(9), encodedKey, token, token.split('.')[1], 'hunter2-secret']) {
      expect(output).not.toContain(secret);
    }
  });

  it('never keeps a key or a token sent as X-Request-Id: not echoed, logged, nor stored in the usage log', async () => {
    const key = owner.api_key;
    const marker = `idscan-${Date.now()}`;
    const sends: Array<{ path: string; init: Parameters<typeof request>[1]; id: string }> = [
      {
        path: '/api/v1/auth/m2m/authenticate',
        init: { method: 'POST', headers: { 'x-api-key': key }, body: { client_id: owner.client_id } },
        id: key,
      },
      // A key sent directly: the gateway's exchange is recorded in the usage log under the request's id.
      { path: '/api/v1/findings?limit=1', init: { headers: { 'x-api-key': key } }, id: key },
      { path: '/api/v1/findings?limit=1', init: { headers: { 'x-api-key': key } }, id: key.toUpperCase() },
      {
        path: '/api/v1/findings?limit=1',
        init: { headers: { authorization: `Bearer ${token}` } },
        id: token,
      },
    ];
    for (const send of sends) {
      const response = await request(`${suite.gateway.url}${send.path}`, {
        ...send.init,
        headers: { ...send.init?.headers, 'x-request-id': send.id, 'user-agent': marker },
      });
      expect(response.status).toBe(200);
      const echoed = response.headers.get('x-request-id');
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
      expect(echoed).not.toBe(send.id);
    }

    const processes = [suite.gateway, suite.auth, suite.admin, ...suite.findings];
    for (const service of processes) {
      await request(`${service.url}/api/v1/nothing-here`, { headers: { 'x-request-id': `${marker}-final` } });
      await service.waitForOutput(new RegExp(`${marker}-final`));
    }
    const output = processes.map((service) => service.output()).join('\n');
    for (const secret of [key, key.slice(9), key.toUpperCase(), token, token.split('.')[1]]) {
      expect(output).not.toContain(secret);
    }

    // The usage log is written in batches: wait for the rows of the authentication and of the exchange.
    let ids: (string | null)[] = [];
    for (let attempt = 0; attempt < 100 && ids.length < 2; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      const usage = await request<{ data: { request_id: string | null; user_agent: string | null }[] }>(
        `${suite.gateway.url}/api/v1/api-keys/${owner.api_key_id}/usage?limit=100`,
        { headers: { authorization: `Bearer ${token}` } },
      );
      ids = (usage.body.data ?? []).filter((row) => row.user_agent === marker).map((row) => row.request_id);
    }
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
