import { createServer } from 'node:net';
import {
  createLeakedKeyReporter,
  startSuite,
  startWebhookReceiver,
  type BootstrapOutput,
  type RunningSuite,
  type WebhookReceiver,
} from '@gatehouse/testing';
import { ResponseConformance, type ConformanceDocument } from './support/openapi-conformance';

interface Call {
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

/** Reserves a port nobody listens on. */
const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

/**
 * Every main flow through the gateway, each real response held to the merged OpenAPI document it serves: the
 * status is declared for the operation, required headers are there (WWW-Authenticate on every 401), and the body
 * validates strictly (JSON Schema 2020-12 with formats, nullable objects included, no undeclared property).
 */
describe('the OpenAPI document against real responses', () => {
  const reporter = createLeakedKeyReporter('openapi-conformance');
  let suite: RunningSuite;
  let gateway: string;
  let owner: BootstrapOutput;
  let conformance: ResponseConformance;
  let document: ConformanceDocument;
  let ownerToken: string;
  let pipeline: { id: string; secret: string };
  let reader: { id: string; secret: string };
  let scanId: string;
  let findingId: string;
  let receiver: WebhookReceiver;

  /** Calls the gateway and expects the answer to conform; `status` is what the step is about. */
  const call = async (
    method: string,
    template: string,
    status: number,
    options: Call = {},
    base = gateway,
  ): Promise<Answer> => {
    const path = template.replace(/\{(\w+)\}/g, (_match, name: string) =>
      encodeURIComponent(options.params?.[name] ?? ''),
    );
    const url = new URL(path, base);
    for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.append(name, value);
    const headers: Record<string, string> = { ...options.headers };
    let body = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    expect({ status: response.status, text: response.status === status ? '' : text }).toEqual({
      status,
      text: '',
    });
    expect(conformance.problems(method, template, { status, headers: response.headers, text })).toEqual([]);
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0] ?? '';
    const json = /^application\/(.+\+)?json$/.test(mediaType) && text ? JSON.parse(text) : {};
    return { status, headers: response.headers, text, json: json as Record<string, unknown> };
  };

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    suite = await startSuite({
      adminEnv: {
        LEAKED_KEY_REPORTER_PUBLIC_KEYS: reporter.publicKeys(),
        // The webhook receiver below is on loopback.
        WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
        WEBHOOK_POLL_INTERVAL_MS: '100',
      },
    });
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('openapi-conformance');
    const response = await fetch(`${gateway}/api/docs/openapi.json`);
    expect(response.status).toBe(200);
    document = (await response.json()) as ConformanceDocument;
    conformance = new ResponseConformance(document);
  });

  afterAll(async () => {
    await suite?.stop();
    await receiver?.stop();
  });

  it('authenticates with the owner key, and serves the JWKS', async () => {
    const issued = await call('POST', '/api/v1/auth/m2m/authenticate', 200, {
      headers: { 'x-api-key': owner.api_key },
      body: { client_id: owner.client_id },
    });
    ownerToken = issued.json['access_token'] as string;
    await call('GET', '/api/v1/auth/jwks', 200);
  });

  it('creates, lists and reads keys; refuses a duplicate, a bad body, a wrong media type, an oversized body', async () => {
    const created = await call('POST', '/api/v1/api-keys', 201, {
      headers: bearer(ownerToken),
      body: { name: 'CI', client_id: 'ci-pipeline', permissions: ['write:findings', 'read:findings'] },
    });
    expect(created.json['rotation']).toBeNull();
    pipeline = { id: created.json['id'] as string, secret: created.json['api_key'] as string };
    const readOnly = await call('POST', '/api/v1/api-keys', 201, {
      headers: bearer(ownerToken),
      body: {
        name: 'Reader',
        client_id: 'reader',
        permissions: ['read:findings'],
        environment: 'test',
        allowed_ips: ['127.0.0.1', '::1'],
        expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      },
    });
    reader = { id: readOnly.json['id'] as string, secret: readOnly.json['api_key'] as string };

    await call('GET', '/api/v1/api-keys', 200, { headers: bearer(ownerToken), query: { limit: '1' } });
    await call('GET', '/api/v1/api-keys/{id}', 200, { headers: bearer(ownerToken), params: pipeline });

    const duplicate = await call('POST', '/api/v1/api-keys', 409, {
      headers: bearer(ownerToken),
      body: { name: 'CI again', client_id: 'ci-pipeline', permissions: ['write:findings'] },
    });
    expect(duplicate.json['error']).toBe('conflict');
    const invalid = await call('POST', '/api/v1/api-keys', 400, {
      headers: bearer(ownerToken),
      body: { name: '', client_id: 'x', permissions: ['nope'] },
    });
    expect(invalid.json['error']).toBe('validation_failed');
    await call('POST', '/api/v1/api-keys', 415, {
      headers: { ...bearer(ownerToken), 'content-type': 'text/plain' },
      rawBody: 'name=x',
    });
    await call('POST', '/api/v1/api-keys', 413, {
      headers: { ...bearer(ownerToken), 'content-type': 'application/json' },
      rawBody: JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) }),
    });
  });

  it('rotates a key (rotation an object), finishes the rotation (rotation null), refuses finishing twice', async () => {
    const rotated = await call('POST', '/api/v1/api-keys/{id}/rotate', 200, {
      headers: bearer(ownerToken),
      params: pipeline,
      body: { grace_period_seconds: 60 },
    });
    expect(rotated.json['rotation']).toMatchObject({ previous_preview: expect.any(String) });
    pipeline.secret = rotated.json['api_key'] as string;
    const rotating = await call('GET', '/api/v1/api-keys/{id}', 200, {
      headers: bearer(ownerToken),
      params: pipeline,
    });
    expect(rotating.json['rotation']).not.toBeNull();
    const finished = await call('POST', '/api/v1/api-keys/{id}/rotate/finish', 200, {
      headers: bearer(ownerToken),
      params: pipeline,
    });
    expect(finished.json['rotation']).toBeNull();
    await call('POST', '/api/v1/api-keys/{id}/rotate/finish', 409, {
      headers: bearer(ownerToken),
      params: pipeline,
    });
    // A rotation without a body: the grace period is optional.
    const again = await call('POST', '/api/v1/api-keys/{id}/rotate', 200, {
      headers: bearer(ownerToken),
      params: { id: reader.id },
    });
    reader.secret = again.json['api_key'] as string;
  });

  it('disables and enables a key, sets and clears its allowlist and rate limit', async () => {
    const options = { headers: bearer(ownerToken), params: { id: reader.id } };
    await call('POST', '/api/v1/api-keys/{id}/disable', 200, options);
    await call('POST', '/api/v1/api-keys/{id}/enable', 200, options);
    await call('PUT', '/api/v1/api-keys/{id}/allowed-ips', 200, { ...options, body: { allowed_ips: [] } });
    await call('PUT', '/api/v1/api-keys/{id}/rate-limit', 200, {
      ...options,
      body: { requests_per_minute: 120, burst: 20 },
    });
    await call('DELETE', '/api/v1/api-keys/{id}/rate-limit', 200, options);
  });

  it('relabels a key (description and metadata in the key), sorts and searches keys, and says who is calling', async () => {
    const options = { headers: bearer(ownerToken), params: { id: reader.id } };
    const patched = await call('PATCH', '/api/v1/api-keys/{id}', 200, {
      ...options,
      body: { description: 'Reads findings', metadata: { team: 'qa' } },
    });
    expect(patched.json).toMatchObject({ description: 'Reads findings', metadata: { team: 'qa' } });
    await call('PATCH', '/api/v1/api-keys/{id}', 400, { ...options, body: {} });
    await call('GET', '/api/v1/api-keys', 200, {
      headers: bearer(ownerToken),
      query: { q: 'read', sort: 'last_used_at', order: 'asc' },
    });
    const me = await call('GET', '/api/v1/me', 200, { headers: bearer(ownerToken) });
    expect(me.json).toMatchObject({ kind: 'api_key', subject: `api_key:${owner.api_key_id}` });
  });

  it('uploads findings with a key sent directly, in the request and queued, and refuses a reused idempotency key', async () => {
    const key = { 'x-api-key': pipeline.secret };
    const finding = {
      rule_id: 'hardcoded-secret',
      title: 'Hard-coded secret',
      severity: 'high',
      location: { path: 'src/config.ts', start_line: 12 },
    };
    const stored = await call('POST', '/api/v1/findings', 201, {
      headers: { ...key, 'idempotency-key': 'conformance-1' },
      query: { repository: 'acme/payments', ref: 'refs/heads/main', tool: 'gitleaks', commit: '9fceb02' },
      body: { findings: [finding, { ...finding, rule_id: 'other', location: { path: 'src/a.ts' } }] },
    });
    scanId = stored.json['scan_id'] as string;
    await call('POST', '/api/v1/findings', 201, {
      headers: { ...key, 'idempotency-key': 'conformance-1' },
      query: { repository: 'acme/payments', ref: 'refs/heads/main', tool: 'gitleaks', commit: '9fceb02' },
      body: { findings: [finding, { ...finding, rule_id: 'other', location: { path: 'src/a.ts' } }] },
    });
    await call('POST', '/api/v1/findings', 422, {
      headers: { ...key, 'idempotency-key': 'conformance-1' },
      body: { findings: [{ ...finding, title: 'Something else' }] },
    });
    await call('POST', '/api/v1/findings', 202, {
      headers: { ...key, prefer: 'respond-async' },
      query: { repository: 'acme/web' },
      body: { findings: [finding] },
    });
    const invalid = await call('POST', '/api/v1/findings', 400, {
      headers: key,
      body: { findings: [{ ...finding, severity: 'urgent' }] },
    });
    expect(invalid.json['error']).toBe('validation_failed');
  });

  it('lists, summarizes and reads findings and scans', async () => {
    const options = { headers: bearer(ownerToken) };
    const page = await call('GET', '/api/v1/findings', 200, {
      ...options,
      query: { severity: 'high,critical' },
    });
    const [first] = page.json['data'] as { id: string }[];
    findingId = first.id;
    await call('GET', '/api/v1/findings/summary', 200, options);
    const grouped = await call('GET', '/api/v1/findings/summary', 200, {
      ...options,
      query: { group_by: 'repository' },
    });
    expect(grouped.json['groups']).toEqual(expect.any(Array));
    await call('GET', '/api/v1/findings/{id}', 200, { ...options, params: { id: findingId } });
    await call('GET', '/api/v1/findings/{id}', 404, {
      ...options,
      params: { id: '00000000-0000-4000-8000-000000000000' },
    });
    await call('GET', '/api/v1/scans', 200, options);
    await call('GET', '/api/v1/scans/{id}', 200, { ...options, params: { id: scanId } });
    await call('GET', '/api/v1/scans/{id}', 404, { ...options, params: { id: 'not-a-scan' } });
    await call('GET', '/api/v1/findings', 400, { ...options, query: { limit: '1000' } });
  });

  it('lists the usage of a key and the audit trail, and exports it as JSON lines of AuditEvent', async () => {
    const options = { headers: bearer(ownerToken) };
    await call('GET', '/api/v1/api-keys/{id}/usage', 200, { ...options, params: pipeline });
    await call('GET', '/api/v1/audit-events', 200, { ...options, query: { action: 'api_key.created' } });
    const exported = await call('GET', '/api/v1/audit-events/export', 200, options);
    const lines = exported.text.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(conformance.schemaProblems('AuditEvent', JSON.parse(line))).toEqual([]);
  });

  it('adds, lists, reads, changes, tests, re-keys and deletes a webhook endpoint, and reads its delivery log', async () => {
    const options = { headers: bearer(ownerToken) };
    const created = await call('POST', '/api/v1/webhooks', 201, {
      ...options,
      body: {
        url: receiver.url,
        event_types: ['api_key.created', 'api_key.expiring'],
        description: 'conformance',
      },
    });
    const params = { id: created.json['id'] as string };
    await call('GET', '/api/v1/webhooks', 200, options);
    await call('GET', '/api/v1/webhooks/{id}', 200, { ...options, params });
    await call('PATCH', '/api/v1/webhooks/{id}', 200, {
      ...options,
      params,
      body: { expiring_within_days: 14 },
    });
    await call('POST', '/api/v1/webhooks/{id}/test', 202, { ...options, params });
    await call('POST', '/api/v1/webhooks/{id}/rotate-secret', 200, { ...options, params });
    await receiver.waitFor(1);
    const log = await call('GET', '/api/v1/webhooks/{id}/deliveries', 200, { ...options, params });
    expect(log.json['data']).toHaveLength(1);
    await call('GET', '/api/v1/webhooks/{id}', 404, { ...options, params: { id: owner.api_key_id } });
    await call('DELETE', '/api/v1/webhooks/{id}', 204, { ...options, params });
    // Endpoint changes are audit events too, with target type webhook.
    const audited = await call('GET', '/api/v1/audit-events', 200, {
      ...options,
      query: { target_id: params.id },
    });
    expect((audited.json['data'] as { action: string }[]).map((event) => event.action)).toEqual([
      'webhook.deleted',
      'webhook.secret_rotated',
      'webhook.updated',
      'webhook.created',
    ]);
  });

  it('answers refusals as declared: 401 with its challenge, 403, 404, and a revoked key', async () => {
    const missing = await call('GET', '/api/v1/api-keys', 401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse"');
    const forged = await call('GET', '/api/v1/findings', 401, { headers: bearer('a.b.c') });
    expect(forged.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse", error="invalid_token"');
    const noKey = await call('POST', '/api/v1/auth/m2m/authenticate', 401, { body: { client_id: 'reader' } });
    expect(noKey.headers.get('www-authenticate')).toBe('ApiKey realm="gatehouse", header="X-API-Key"');

    const readerToken = (
      await call('POST', '/api/v1/auth/m2m/authenticate', 200, {
        headers: { 'x-api-key': reader.secret },
        body: { client_id: 'reader' },
      })
    ).json['access_token'] as string;
    await call('GET', '/api/v1/api-keys', 403, { headers: bearer(readerToken) });
    await call('GET', '/api/v1/api-keys/{id}', 404, {
      headers: bearer(ownerToken),
      params: { id: '00000000-0000-4000-8000-000000000000' },
    });

    await call('POST', '/api/v1/api-keys/{id}/revoke', 200, { headers: bearer(ownerToken), params: reader });
    const revoked = await call('POST', '/api/v1/auth/m2m/authenticate', 401, {
      headers: { 'x-api-key': reader.secret },
      body: { client_id: 'reader' },
    });
    expect(revoked.json['error']).toBe('api_key_revoked');
    expect(revoked.headers.get('www-authenticate')).toBe(
      'ApiKey realm="gatehouse", header="X-API-Key", error="invalid_key"',
    );
    const direct = await call('GET', '/api/v1/findings', 401, { headers: { 'x-api-key': reader.secret } });
    expect(direct.headers.get('www-authenticate')).toMatch(/^ApiKey realm="gatehouse"/);
    await call('DELETE', '/api/v1/api-keys/{id}', 204, { headers: bearer(ownerToken), params: reader });
  });

  it('takes a signed leaked-key report, and refuses an unsigned one with a Signature challenge', async () => {
    const body = JSON.stringify([
      { token: pipeline.secret, type: 'gatehouse_api_key', url: 'https://x.test/a' },
    ]);
    const answered = await call('POST', '/api/v1/leaked-keys', 200, {
      headers: reporter.headers(body),
      rawBody: body,
    });
    expect(answered.json).toEqual([expect.objectContaining({ label: 'true_positive' })]);
    const unsigned = await call('POST', '/api/v1/leaked-keys', 401, {
      headers: { 'content-type': 'application/json', 'github-public-key-identifier': reporter.identifier },
      rawBody: body,
    });
    expect(unsigned.headers.get('www-authenticate')).toMatch(/^Signature realm="gatehouse"/);
  });

  it('answers 429 with Retry-After where the gateway limits, as declared', async () => {
    const limited = await suite.startGateway({
      AUTH_RATE_LIMIT_PER_SECOND: '1',
      AUTH_RATE_LIMIT_BURST: '0',
      // Buckets of its own: the first gateway's limits stay as they were.
      RATE_LIMIT_KEY_PREFIX: `${suite.env['RATE_LIMIT_KEY_PREFIX'] ?? 'openapi'}:limited`,
    });
    let refused: Answer | undefined;
    for (let attempt = 0; attempt < 20 && !refused; attempt += 1) {
      const response = await fetch(`${limited.url}/api/v1/auth/m2m/authenticate`, {
        method: 'POST',
        headers: { 'x-api-key': owner.api_key, 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: owner.client_id }),
      });
      const text = await response.text();
      const problems = conformance.problems('POST', '/api/v1/auth/m2m/authenticate', {
        status: response.status,
        headers: response.headers,
        text,
      });
      expect(problems).toEqual([]);
      if (response.status === 429)
        refused = { status: 429, headers: response.headers, text, json: JSON.parse(text) };
    }
    expect(refused?.json['error']).toBe('rate_limit_exceeded');
    expect(refused?.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('answers 502 as declared when the service behind a route is down', async () => {
    const broken = await suite.startGateway({ ADMIN_API_URL: `http://127.0.0.1:${await closedPort()}` });
    const answer = await call('GET', '/api/v1/api-keys', 502, { headers: bearer(ownerToken) }, broken.url);
    expect(answer.json['error']).toBe('bad_gateway');
  });

  it('checked a success of every operation of the document, and each kind of refusal', () => {
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const succeeded = new Set(
      [...conformance.checked].filter((key) => / 2\d\d$/.test(key)).map((key) => key.slice(0, -4)),
    );
    expect(operations.filter((operation) => !succeeded.has(operation))).toEqual([]);
    const statuses = new Set([...conformance.checked].map((key) => key.slice(-3)));
    for (const status of ['400', '401', '403', '404', '409', '413', '415', '422', '429', '502']) {
      expect({ status, checked: statuses.has(status) }).toEqual({ status, checked: true });
    }
  });
});
