import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Client } from 'pg';
import {
  request,
  startService,
  startSuite,
  type BootstrapOutput,
  type RunningSuite,
  type ServiceName,
  type ServiceProcess,
} from '@gatehouse/testing';

/** The value of a sample in Prometheus' text format, summed over the series whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) {
      total = (total ?? 0) + Number(match[3]);
    }
  }
  return total;
}

async function scrape(service: ServiceProcess): Promise<string> {
  const response = await fetch(`${service.managementUrl}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** The JSON log lines of a process that carry `requestId`. */
function logLinesFor(service: ServiceProcess, requestId: string): Record<string, unknown>[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.includes(requestId))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const uniqueId = (label: string) => `${label}-${randomBytes(6).toString('hex')}`;

function findings(count: number): { findings: Record<string, unknown>[] } {
  return {
    findings: Array.from({ length: count }, (_, index) => ({
      rule_id: `R${index % 50}`,
      title: `Finding number ${index}`,
      severity: 'medium',
      location: { path: `src/file-${index}.ts`, start_line: index + 1 },
    })),
  };
}

interface HeldRequest {
  /** Sends the rest of the body. */
  finish(): void;
  response: Promise<{ status: number; body: Record<string, unknown> }>;
}

/**
 * A POST whose body is sent in two parts: the request is in flight on the server (headers read, body awaited)
 * from the first part until `finish()`, for as long as the test needs.
 */
async function holdRequest(
  url: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<HeldRequest> {
  const payload = Buffer.from(JSON.stringify(body));
  const half = Math.floor(payload.length / 2);
  const outgoing = httpRequest(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) },
  });
  const response = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    outgoing.on('error', reject);
    outgoing.on('response', (incoming) => {
      let text = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk: string) => (text += chunk));
      incoming.on('end', () =>
        resolve({ status: incoming.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
      );
      incoming.on('error', reject);
    });
  });
  await new Promise<void>((resolve, reject) =>
    outgoing.write(payload.subarray(0, half), (error) => (error ? reject(error) : resolve())),
  );
  // A round trip on another connection: once the server has answered it, it has read the headers and the first
  // half that were sent before, so the request is in flight there, waiting for the rest of its body.
  await fetch(new URL('/health/live', url));
  return { finish: () => outgoing.end(payload.subarray(half)), response };
}

/** Readiness while shutting down: 503 from the app, or Fastify's 503, or no connection at all once closed. */
async function readinessDuringShutdown(service: ServiceProcess): Promise<number | 'refused'> {
  return fetch(`${service.url}/health/ready`).then(
    (response) => response.status,
    () => 'refused' as const,
  );
}

describe('operations: metrics, request ids, graceful shutdown', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let ownerToken: string;

  const authenticate = (baseUrl: string, apiKey: string, clientId: string, requestId?: string) =>
    request(`${baseUrl}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, ...(requestId ? { 'x-request-id': requestId } : {}) },
      body: { client_id: clientId },
    });

  const createKey = async (clientId: string, permissions: string[]) => {
    const created = await request(`${suite.gateway.url}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}` },
      body: { name: clientId, client_id: clientId, permissions },
    });
    expect(created.status).toBe(201);
    return { id: created.body['id'] as string, secret: created.body['api_key'] as string };
  };

  const services = (): Record<ServiceName, ServiceProcess> => ({
    'api-gateway': suite.gateway,
    'auth-service': suite.auth,
    'admin-api': suite.admin,
    'findings-service': suite.findings[0],
  });

  beforeAll(async () => {
    suite = await startSuite();
    owner = await suite.bootstrap('operations');
    const response = await authenticate(suite.gateway.url, owner.api_key, owner.client_id);
    expect(response.status).toBe(200);
    ownerToken = response.body['access_token'] as string;
  });

  afterAll(async () => {
    await suite?.stop();
  });

  describe('GET /metrics', () => {
    it.each(['api-gateway', 'auth-service', 'admin-api', 'findings-service'] as const)(
      '%s serves its HTTP and process metrics in the text format on its management port',
      async (name) => {
        const service = services()[name];
        expect(new URL(service.managementUrl).port).not.toBe(new URL(service.url).port);
        await request(`${service.url}/health/live`);
        const response = await fetch(`${service.managementUrl}/metrics`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
        const text = await response.text();

        expect(text).toContain('# TYPE http_requests_total counter');
        expect(text).toContain('# TYPE http_request_duration_seconds histogram');
        const live = { gatehouse_service: name, method: 'GET', route: '/health/live', status: '200' };
        expect(sample(text, 'http_requests_total', live)).toBeGreaterThanOrEqual(1);
        expect(sample(text, 'http_request_duration_seconds_count', live)).toBeGreaterThanOrEqual(1);
        expect(
          sample(text, 'http_request_duration_seconds_bucket', { ...live, le: '+Inf' }),
        ).toBeGreaterThanOrEqual(1);
        // Default process metrics, with the service label too.
        expect(sample(text, 'process_cpu_user_seconds_total', { gatehouse_service: name })).toBeGreaterThan(
          0,
        );
        expect(sample(text, 'nodejs_heap_size_used_bytes', { gatehouse_service: name })).toBeGreaterThan(0);
        // Every series of this app carries its own gatehouse_service label, and only that one; no `service`.
        expect(text).not.toMatch(new RegExp(`gatehouse_service="(?!${name}")`));
        expect(text).not.toMatch(/[{,]service=/);
      },
    );

    it.each(['api-gateway', 'auth-service', 'admin-api', 'findings-service'] as const)(
      "%s's metrics pass `promtool check metrics` (Prometheus' own linter) without a remark",
      async (name) => {
        const text = await (await fetch(`${services()[name].managementUrl}/metrics`)).text();
        const checked = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
        // promtool comes with Debian's prometheus package (.ci/run installs it).
        expect(checked.error).toBeUndefined();
        expect({ status: checked.status, remarks: `${checked.stdout}${checked.stderr}`.trim() }).toEqual({
          status: 0,
          remarks: '',
        });
        expect(sample(text, 'gatehouse_build_info', { gatehouse_service: name })).toBe(1);
      },
    );

    it('exposes the PostgreSQL pool of every service and the upstream pools of the gateway', async () => {
      for (const service of [suite.auth, suite.admin, suite.findings[0]]) {
        const text = await scrape(service);
        expect(sample(text, 'gatehouse_db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);
        expect(sample(text, 'gatehouse_db_pool_connections', { state: 'waiting' })).toBe(0);
      }
      // A request through the gateway leaves a connection open to auth-service's pool.
      await request(`${suite.gateway.url}/api/v1/auth/jwks`);
      const gateway = await scrape(suite.gateway);
      expect(
        sample(gateway, 'gatehouse_upstream_connections', { upstream: '/api/v1/auth', state: 'connected' }),
      ).toBeGreaterThanOrEqual(1);
      expect(gateway).not.toContain('gatehouse_db_pool_connections');
    });

    it('exposes the revocation metrics on every node with a revocation set, and not on the gateway', async () => {
      for (const service of [suite.auth, suite.admin, suite.findings[0]]) {
        const text = await scrape(service);
        expect(sample(text, 'gatehouse_revocations_applied_total', { type: 'key_revoked' })).toBeDefined();
        expect(sample(text, 'gatehouse_revocations_applied_total', { type: 'secret_retired' })).toBeDefined();
        expect(sample(text, 'gatehouse_revocation_set_size', { type: 'key_revoked' })).toBeDefined();
      }
      const gateway = await scrape(suite.gateway);
      expect(gateway).not.toContain('gatehouse_revocations_applied_total');
      expect(gateway).not.toContain('gatehouse_tokens_issued_total');
    });

    it("the gateway's management port answers with the gateway's own metrics, never a service's", async () => {
      const text = await scrape(suite.gateway);
      expect(
        sample(text, 'process_cpu_user_seconds_total', { gatehouse_service: 'api-gateway' }),
      ).toBeGreaterThan(0);
      expect(text).not.toContain('gatehouse_service="auth-service"');
      expect(text).not.toContain('gatehouse_tokens_issued_total');
    });

    it.each(['api-gateway', 'auth-service', 'admin-api', 'findings-service'] as const)(
      '%s answers GET /metrics on its public port with 404 in the error shape',
      async (name) => {
        const response = await request(`${services()[name].url}/metrics`);
        expect(response.status).toBe(404);
        expect(response.body).toMatchObject({ error: 'not_found', request_id: expect.any(String) });
        expect(JSON.stringify(response.body)).not.toContain('http_requests_total');
      },
    );

    it('the gateway forwards no spelling of /metrics to a service', async () => {
      for (const path of ['/metrics', '/metrics/', '/METRICS', '/metrics?format=prometheus']) {
        const response = await request(`${suite.gateway.url}${path}`);
        expect({ path, status: response.status }).toEqual({ path, status: 404 });
        expect(response.body).toMatchObject({ error: 'not_found' });
        expect(JSON.stringify(response.body)).not.toContain('# TYPE');
      }
    });

    it('the management port serves nothing else: 404 elsewhere, 405 for other methods, in the error shape', async () => {
      const management = suite.auth.managementUrl;
      const elsewhere = await request(`${management}/health/live`);
      expect(elsewhere.status).toBe(404);
      expect(elsewhere.body).toMatchObject({ error: 'not_found', request_id: expect.any(String) });
      const posted = await request(`${management}/metrics`, { method: 'POST', body: {} });
      expect(posted.status).toBe(405);
      expect(posted.body).toMatchObject({ error: 'method_not_allowed' });
      expect(posted.headers.get('allow')).toBe('GET, HEAD');
    });

    it('reports every Redis connection of each app as connected, from the first scrape on', async () => {
      for (const service of [suite.auth, suite.admin, suite.findings[0]]) {
        const text = await scrape(service);
        expect(sample(text, 'gatehouse_redis_connected', { client: 'revocation_publisher' })).toBe(1);
        expect(sample(text, 'gatehouse_redis_connected', { client: 'revocation_subscriber' })).toBe(1);
        expect(sample(text, 'gatehouse_redis_connected', { client: 'rate_limit' })).toBeUndefined();
      }
      const gateway = await scrape(suite.gateway);
      expect(sample(gateway, 'gatehouse_redis_connected', { client: 'rate_limit' })).toBe(1);
      expect(sample(gateway, 'gatehouse_redis_connected', { client: 'revocation_subscriber' })).toBe(1);
    });

    it('counts issued tokens and authentication outcomes on auth-service', async () => {
      const before = await scrape(suite.auth);
      expect(await authenticate(suite.gateway.url, owner.api_key, owner.client_id)).toMatchObject({
        status: 200,
      });
      expect(await authenticate(suite.gateway.url, owner.api_key, owner.client_id)).toMatchObject({
        status: 200,
      });
      expect(await authenticate(suite.gateway.url, owner.api_key, 'someone-else')).toMatchObject({
        status: 401,
      });
      const after = await scrape(suite.auth);

      const issued = (text: string) => sample(text, 'gatehouse_tokens_issued_total') ?? Number.NaN;
      const outcome = (text: string, value: string) =>
        sample(text, 'gatehouse_authentications_total', { outcome: value }) ?? 0;
      expect(issued(after) - issued(before)).toBe(2);
      expect(outcome(after, 'success') - outcome(before, 'success')).toBe(2);
      expect(outcome(after, 'client_id_mismatch') - outcome(before, 'client_id_mismatch')).toBe(1);

      const route = { method: 'POST', route: '/api/v1/auth/m2m/authenticate' };
      expect(
        (sample(after, 'http_requests_total', { ...route, status: '200' }) ?? 0) -
          (sample(before, 'http_requests_total', { ...route, status: '200' }) ?? 0),
      ).toBe(2);
      // Batched usage writes are flushed every 200 ms in the suite.
      const flushed = async () =>
        sample(await scrape(suite.auth), 'gatehouse_usage_flush_total', {
          batch: 'usage_log',
          result: 'success',
        });
      const deadline = Date.now() + 5000;
      while (((await flushed()) ?? 0) === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await flushed()).toBeGreaterThan(0);
    });

    it('labels requests with the route pattern, never the URL with its ids', async () => {
      const key = await createKey(uniqueId('pattern'), ['read:findings']);
      const read = await request(`${suite.gateway.url}/api/v1/api-keys/${key.id}`, {
        headers: { authorization: `Bearer ${ownerToken}` },
      });
      expect(read.status).toBe(200);

      const admin = await scrape(suite.admin);
      expect(
        sample(admin, 'http_requests_total', { method: 'GET', route: '/api/v1/api-keys/:id', status: '200' }),
      ).toBeGreaterThanOrEqual(1);
      expect(admin).not.toContain(key.id);
      // The gateway counts proxied requests under the prefix it forwards.
      const gateway = await scrape(suite.gateway);
      expect(
        sample(gateway, 'http_requests_total', { method: 'GET', route: '/api/v1/api-keys', status: '200' }),
      ).toBeGreaterThanOrEqual(1);
      expect(gateway).not.toContain(key.id);
      // Unknown paths all share one label.
      expect((await request(`${suite.gateway.url}/no/such/${key.id}`)).status).toBe(404);
      const unmatched = await scrape(suite.gateway);
      expect(
        sample(unmatched, 'http_requests_total', { route: 'unmatched', status: '404' }),
      ).toBeGreaterThanOrEqual(1);
      expect(unmatched).not.toContain(key.id);
    });

    it('counts a revocation on every node and shows it in the revocation set size', async () => {
      const nodes = [suite.auth, suite.admin, suite.findings[0]];
      const applied = (text: string) =>
        sample(text, 'gatehouse_revocations_applied_total', { type: 'key_revoked' }) ?? 0;
      const before = await Promise.all(nodes.map(async (node) => applied(await scrape(node))));
      const key = await createKey(uniqueId('revoked'), ['read:findings']);
      const revoked = await request(`${suite.gateway.url}/api/v1/api-keys/${key.id}/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ownerToken}` },
      });
      expect(revoked.status).toBe(200);

      for (const [index, node] of nodes.entries()) {
        const deadline = Date.now() + 3000;
        let text = await scrape(node);
        while (applied(text) <= before[index] && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          text = await scrape(node);
        }
        expect(applied(text)).toBe(before[index] + 1);
        expect(sample(text, 'gatehouse_revocation_set_size', { type: 'key_revoked' })).toBeGreaterThanOrEqual(
          1,
        );
      }
    });
  });

  describe('request ids', () => {
    it("the gateway's request id reaches the upstream: in its response and in its JSON log line", async () => {
      const response = await authenticate(suite.gateway.url, owner.api_key, owner.client_id);
      expect(response.status).toBe(200);
      const requestId = response.headers.get('x-request-id');
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);

      await suite.auth.waitForOutput(new RegExp(`"id":"${requestId}"`));
      const [upstreamLine] = logLinesFor(suite.auth, requestId!);
      expect(upstreamLine).toMatchObject({
        level: 'info',
        service: 'auth-service',
        req: { id: requestId, method: 'POST', url: '/api/v1/auth/m2m/authenticate' },
        res: { statusCode: 200 },
      });
      await suite.gateway.waitForOutput(new RegExp(`"id":"${requestId}"`));
      expect(logLinesFor(suite.gateway, requestId!)[0]).toMatchObject({
        service: 'api-gateway',
        req: { id: requestId },
      });
      // The credential never reaches a log line.
      expect(suite.auth.output()).not.toContain(owner.api_key);
      expect(suite.gateway.output()).not.toContain(owner.api_key);
    });

    it("forwards a caller's well-formed request id, and both services log it", async () => {
      const requestId = uniqueId('ops-trace');
      const response = await request(`${suite.gateway.url}/api/v1/findings`, {
        headers: { authorization: `Bearer ${ownerToken}`, 'x-request-id': requestId },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-request-id')).toBe(requestId);
      await suite.findings[0].waitForOutput(new RegExp(requestId));
      expect(logLinesFor(suite.findings[0], requestId)[0]).toMatchObject({
        service: 'findings-service',
        req: { id: requestId, method: 'GET' },
        res: { statusCode: 200 },
      });
      await suite.gateway.waitForOutput(new RegExp(requestId));
    });

    it('does not log probes and scrapes', async () => {
      const requestId = uniqueId('quiet');
      await request(`${suite.auth.url}/metrics`, {
        headers: { 'x-request-id': `${requestId}-metrics` },
      }).catch(() => undefined);
      await request(`${suite.auth.managementUrl}/metrics`, {
        headers: { 'x-request-id': `${requestId}-scrape` },
      }).catch(() => undefined);
      await request(`${suite.auth.url}/health/live`, { headers: { 'x-request-id': `${requestId}-live` } });
      const marker = uniqueId('marker');
      await request(`${suite.auth.url}/api/v1/auth/jwks`, { headers: { 'x-request-id': marker } });
      // The log line of the request sent last proves the earlier ones would have been written by now.
      await suite.auth.waitForOutput(new RegExp(marker));
      expect(suite.auth.output()).not.toContain(requestId);
    });
  });

  describe('graceful shutdown', () => {
    const verifierEnv = () => ({ ...suite.env, JWKS_URL: `${suite.auth.url}/api/v1/auth/jwks` });

    it('a findings upload in flight at SIGTERM completes with 201, then the process exits with 0', async () => {
      const node = await startService('findings-service', verifierEnv());
      try {
        const held = await holdRequest(
          `${node.url}/api/v1/findings`,
          { authorization: `Bearer ${ownerToken}` },
          findings(1000),
        );
        const exited = node.signal('SIGTERM');
        await node.waitForOutput(/"message":"shutting down/);
        // Not ready any more, and soon not even listening: nothing new gets in while the upload drains.
        expect([503, 'refused']).toContain(await readinessDuringShutdown(node));
        held.finish();

        const response = await held.response;
        expect(response.status).toBe(201);
        expect(response.body).toMatchObject({ status: 'completed', results: 1000, new: 1000 });
        expect(await exited).toEqual({ code: 0, signal: null });
        expect(node.output()).toContain('"message":"shutdown complete"');
      } finally {
        await node.stop();
      }
    });

    it('the gateway drains a proxied request in flight at SIGTERM, then exits with 0', async () => {
      const gateway = await startService('api-gateway', {
        ...suite.env,
        AUTH_SERVICE_URL: suite.auth.url,
        ADMIN_API_URL: suite.admin.url,
        FINDINGS_SERVICE_URL: suite.findings[0].url,
      });
      try {
        const held = await holdRequest(
          `${gateway.url}/api/v1/findings`,
          { authorization: `Bearer ${ownerToken}` },
          findings(200),
        );
        const exited = gateway.signal('SIGTERM');
        await gateway.waitForOutput(/"message":"shutting down/);
        held.finish();

        const response = await held.response;
        expect(response.status).toBe(201);
        expect(response.body).toMatchObject({ status: 'completed', results: 200 });
        expect(await exited).toEqual({ code: 0, signal: null });
      } finally {
        await gateway.stop();
      }
    });

    it('writes the batched usage rows and last-used times on SIGTERM', async () => {
      // Flushing every minute: whatever is in the database after SIGTERM was written by the shutdown.
      const auth = await startService('auth-service', {
        ...suite.env,
        JWT_SIGNING_KEY: suite.signingKeyPem,
        USAGE_FLUSH_INTERVAL_MS: '60000',
      });
      const clientId = uniqueId('flush-on-exit');
      const key = await createKey(clientId, ['read:findings']);
      const requestIds = [uniqueId('usage'), uniqueId('usage'), uniqueId('usage')];
      const database = new Client({ connectionString: suite.database.url });
      await database.connect();
      try {
        for (const requestId of requestIds) {
          expect((await authenticate(auth.url, key.secret, clientId, requestId)).status).toBe(200);
        }
        const usageRows = async () =>
          (
            await database.query<{ request_id: string; outcome: string }>(
              'SELECT request_id, outcome FROM api_key_usage WHERE api_key_id = $1 ORDER BY request_id',
              [key.id],
            )
          ).rows;
        const lastUsedAt = async () =>
          (
            await database.query<{ last_used_at: Date | null }>(
              'SELECT last_used_at FROM api_keys WHERE id = $1',
              [key.id],
            )
          ).rows[0].last_used_at;
        // Still only in memory.
        expect(await usageRows()).toEqual([]);
        expect(await lastUsedAt()).toBeNull();

        // One more authentication in flight at SIGTERM: what it records must be flushed too, so the flush has to
        // come after the drain.
        const drainingId = uniqueId('usage');
        const held = await holdRequest(
          `${auth.url}/api/v1/auth/m2m/authenticate`,
          { 'x-api-key': key.secret, 'x-request-id': drainingId },
          { client_id: clientId },
        );
        const exited = auth.signal('SIGTERM');
        await auth.waitForOutput(/"message":"shutting down/);
        held.finish();
        expect((await held.response).status).toBe(200);
        expect(await exited).toEqual({ code: 0, signal: null });

        expect(await usageRows()).toEqual(
          [...requestIds, drainingId]
            .sort()
            .map((requestId) => ({ request_id: requestId, outcome: 'success' })),
        );
        expect(await lastUsedAt()).toBeInstanceOf(Date);
        expect(auth.output()).not.toMatch(/could not be written|flush failed/);
      } finally {
        await database.end();
        await auth.stop();
      }
    });
  });
});
