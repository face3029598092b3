import { connect } from 'node:net';
import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

/**
 * Input a careless or hostile client sends, to every route family, through the gateway and straight to the
 * services (anything on the cluster network reaches them): always a 4xx in the error shape, never a 500, never
 * anything stored, and the gateway's security headers on its answers however early they are written.
 */

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Writes bytes on a fresh connection and parses the one response that comes back before the server closes it. */
function rawRequest(url: string, text: string): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const split = received.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = received.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const text = received.slice(split + 4);
      resolve({
        status: Number(statusLine?.split(' ')[1]),
        headers,
        body: text ? JSON.parse(text) : undefined,
      });
    });
    socket.setTimeout(10_000, () =>
      socket.destroy(new Error(`no answer from ${url} to ${text.slice(0, 80)}`)),
    );
  });
}

const expectShape = (response: { status: number; body: unknown }, status: number, code?: string) => {
  expect(response.status).toBe(status);
  expect(response.body).toEqual(
    expect.objectContaining({
      error: code ?? expect.any(String),
      message: expect.any(String),
      request_id: expect.any(String),
    }),
  );
};

/** The headers helmet gives every gateway answer; a raw answer must carry them all the same. */
const expectGatewayHeaders = (headers: Record<string, string> | Headers) => {
  const get = (name: string) => (headers instanceof Headers ? headers.get(name) : headers[name]);
  expect(get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
  expect(get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  expect(get('x-content-type-options')).toBe('nosniff');
  expect(get('x-frame-options')).toBe('DENY');
  expect(get('cache-control')).toBe('no-store');
  expect(get('x-request-id')).toEqual(expect.any(String));
};

const cursorOf = (text: string) => Buffer.from(text).toString('base64url');
const UUID = '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff';
const deepJson = (depth: number, leaf = '1') => `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;

describe('hostile input', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let gateway: string;
  let token: string;
  let auth: Record<string, string>;

  beforeAll(async () => {
    suite = await startSuite();
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('hostile-input');
    const response = await request(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': owner.api_key },
      body: { client_id: owner.client_id },
    });
    token = response.body['access_token'] as string;
    auth = { authorization: `Bearer ${token}` };
  });

  afterAll(async () => {
    await suite?.stop();
  });

  /** Every JSON body route, with a valid body to spoil; `base` is the gateway or the service itself. */
  const bodyRoutes = () => {
    const keyId = owner.api_key_id;
    const finding = { rule_id: 'R1', title: 'x', severity: 'low', location: { path: 'a.ts' } };
    return [
      {
        name: 'authenticate',
        method: 'POST',
        path: '/api/v1/auth/m2m/authenticate',
        service: suite.auth.url,
        headers: { 'x-api-key': owner.api_key },
        body: { client_id: owner.client_id },
        text: 'client_id',
      },
      {
        name: 'upload findings',
        method: 'POST',
        path: '/api/v1/findings',
        service: suite.findings[0].url,
        headers: auth,
        body: { findings: [{ ...finding, metadata: { note: 'x' } }] },
        text: 'title',
      },
      {
        name: 'create a key',
        method: 'POST',
        path: '/api/v1/api-keys',
        service: suite.admin.url,
        headers: auth,
        body: { name: 'x', client_id: 'hostile-client', permissions: ['read:keys'] },
        text: 'name',
      },
      {
        name: 'rotate a key',
        method: 'POST',
        path: `/api/v1/api-keys/${keyId}/rotate`,
        service: suite.admin.url,
        headers: auth,
        body: { grace_period_seconds: 60 },
        text: 'grace_period_seconds',
      },
      {
        name: 'override a rate limit',
        method: 'PUT',
        path: `/api/v1/api-keys/${keyId}/rate-limit`,
        service: suite.admin.url,
        headers: auth,
        body: { requests_per_minute: 60, burst: 5 },
        text: 'requests_per_minute',
      },
    ];
  };

  describe('strings PostgreSQL cannot store, and nesting past the limit, in JSON bodies', () => {
    const spoilers: Array<[string, (json: string, field: string) => string]> = [
      ['a NUL in a value', (json, field) => json.replace(`"${field}":`, `"${field}":"a\\u0000b","_":`)],
      [
        'a lone high surrogate in a value',
        (json, field) => json.replace(`"${field}":`, `"${field}":"\\ud800","_":`),
      ],
      [
        'a lone low surrogate in a value',
        (json, field) => json.replace(`"${field}":`, `"${field}":"x\\udc00","_":`),
      ],
      ['a NUL in a key', (json) => json.replace('{', '{"a\\u0000":1,')],
      ['a lone surrogate in a nested key', (json) => json.replace('{', '{"n":[{"\\udbff":1}],')],
      ['JSON nested 10,000 deep', (json) => json.replace('{', `{"deep":${deepJson(10_000)},`)],
      ['a body that is only nesting, 100,000 deep', () => deepJson(100_000)],
      ['nesting one past the limit of 32', (json) => json.replace('{', `{"deep":${deepJson(32)},`)],
    ];

    for (const [spoiler, spoil] of spoilers) {
      it(`answers 400 validation_failed to ${spoiler}, on every body route, gateway and services`, async () => {
        for (const route of bodyRoutes()) {
          const rawBody = spoil(JSON.stringify(route.body), route.text);
          for (const base of [gateway, route.service]) {
            const response = await request(`${base}${route.path}`, {
              method: route.method,
              headers: { ...route.headers, 'content-type': 'application/json' },
              rawBody,
            });
            expectShape(response, 400, 'validation_failed');
          }
        }
      });
    }

    it('accepts nesting up to the limit and well-paired surrogates (emoji)', async () => {
      const response = await request(`${gateway}/api/v1/findings`, {
        method: 'POST',
        headers: auth,
        body: {
          findings: [
            {
              rule_id: 'R-emoji',
              title: 'key 🔑 leaked',
              severity: 'low',
              location: { path: 'a.ts' },
              // findings(1) > [](2) > finding(3) > metadata(4) > 28 arrays = 32 levels
              metadata: { deep: JSON.parse(deepJson(28)) as unknown },
            },
          ],
        },
      });
      expect(response.status).toBe(201);
    });

    it('stored nothing from the refused uploads', async () => {
      const listed = await request<{ data: Array<{ rule_id: string }> }>(`${gateway}/api/v1/findings`, {
        headers: auth,
      });
      expect(listed.body.data.map((finding) => finding.rule_id)).toEqual(['R-emoji']);
      const keys = await request<{ data: Array<{ client_id: string }> }>(`${gateway}/api/v1/api-keys`, {
        headers: auth,
      });
      expect(keys.body.data.map((key) => key.client_id)).not.toContain('hostile-client');
    });
  });

  describe('query strings and path parameters', () => {
    const listRoutes = () => [
      { path: '/api/v1/findings', service: suite.findings[0].url },
      { path: '/api/v1/api-keys', service: suite.admin.url },
      { path: `/api/v1/api-keys/${owner.api_key_id}/usage`, service: suite.admin.url },
      { path: '/api/v1/audit-events', service: suite.admin.url },
      { path: '/api/v1/audit-events/export', service: suite.admin.url },
    ];

    it.each([
      ['a NUL in a filter value', 'actor=a%00b'],
      ['a NUL in a parameter name', 'a%00=1'],
      ['a NUL in the cursor', 'cursor=%00'],
      ['a NUL in a repeated parameter', 'target_id=x&target_id=%00'],
    ])('400 for %s on every list route, gateway and service', async (_case, query) => {
      for (const route of listRoutes()) {
        for (const base of [gateway, route.service]) {
          expectShape(
            await request(`${base}${route.path}?${query}`, { headers: auth }),
            400,
            'validation_failed',
          );
        }
      }
    });

    it('400 for a NUL in the query of the gateway’s own routes and the health probes', async () => {
      for (const path of ['/api/docs', '/health/live', '/health/ready']) {
        expectShape(await request(`${gateway}${path}?x=%00`), 400, 'validation_failed');
      }
      expectShape(await request(`${suite.auth.url}/api/v1/auth/jwks?x=%00`), 400, 'validation_failed');
    });

    it('400 for a NUL in a path parameter, straight to the service', async () => {
      for (const path of [
        '/api/v1/api-keys/%00',
        `/api/v1/api-keys/a%00b/usage`,
        '/api/v1/api-keys/%00/rotate',
      ]) {
        const method = path.endsWith('rotate') ? 'POST' : 'GET';
        expectShape(
          await request(`${suite.admin.url}${path}`, { method, headers: auth }),
          400,
          'validation_failed',
        );
        expectShape(await request(`${gateway}${path}`, { method, headers: auth }), 400);
      }
    });

    it.each([
      ['a six-digit year', '+275760-09-13T00:00:00.000Z'],
      ['year 0', '0000-01-01T00:00:00.000Z'],
      ['a negative year', '-001000-01-01T00:00:00.000Z'],
      ['a year alone', '2000'],
      ['an RFC 2822 date', 'Sat, 01 Jan 2000 00:00:00 GMT'],
      ['an offset PostgreSQL refuses', '2000-01-01 00:00:00+99'],
      ['a day that does not exist', '2030-02-30T00:00:00.000Z'],
    ])('400 validation_failed for a cursor whose time is %s, on every paged route', async (_case, at) => {
      for (const route of listRoutes()) {
        const id = route.path.endsWith('/usage') ? '1' : UUID;
        const cursor = cursorOf(`${at}|${id}`);
        expectShape(
          await request(`${gateway}${route.path}?cursor=${cursor}`, { headers: auth }),
          400,
          'validation_failed',
        );
      }
    });

    it('400 validation_failed for a usage cursor id above 2^63−1, and 200 at it', async () => {
      const usage = `${gateway}/api/v1/api-keys/${owner.api_key_id}/usage`;
      for (const id of ['9223372036854775808', '9999999999999999999']) {
        const cursor = cursorOf(`2030-01-01T00:00:00.000Z|${id}`);
        expectShape(await request(`${usage}?cursor=${cursor}`, { headers: auth }), 400, 'validation_failed');
      }
      const atMax = cursorOf('2030-01-01T00:00:00.000Z|9223372036854775807');
      expect((await request(`${usage}?cursor=${atMax}`, { headers: auth })).status).toBe(200);
    });

    it.each([
      '2009-W53-7',
      '2009',
      '2009-05',
      '2009-05-19T14',
      '2009-05-19T14:39:22,5Z',
      '0000-01-01T00:00:00Z',
      '9999-12-31T23:59:59-23:59',
      '2030-01-01T00:00:00+15:00',
    ])(
      '400 validation_failed for the audit filters since/until=%s, and for a key expiring then',
      async (time) => {
        for (const filter of ['since', 'until']) {
          for (const path of ['/api/v1/audit-events', '/api/v1/audit-events/export']) {
            const url = `${gateway}${path}?${filter}=${encodeURIComponent(time)}`;
            expectShape(await request(url, { headers: auth }), 400, 'validation_failed');
          }
        }
        const created = await request(`${gateway}/api/v1/api-keys`, {
          method: 'POST',
          headers: auth,
          body: { name: 'n', client_id: 'expiry-probe', permissions: ['read:keys'], expires_at: time },
        });
        expectShape(created, 400, 'validation_failed');
      },
    );

    it('400 validation_failed for filters longer than their limit', async () => {
      for (const query of [
        `actor=${'a'.repeat(201)}`,
        `target_id=${'a'.repeat(101)}`,
        `action=${'a'.repeat(65)}`,
      ]) {
        expectShape(
          await request(`${gateway}/api/v1/audit-events?${query}`, { headers: auth }),
          400,
          'validation_failed',
        );
      }
    });
  });

  describe('answers Fastify and Node write themselves', () => {
    const services = () => [suite.auth.url, suite.findings[0].url, suite.admin.url];

    it('414 uri_too_long for a path parameter over the limit, with the gateway’s headers', async () => {
      const long = 'a'.repeat(500);
      const viaGateway = await request(`${gateway}/api/v1/api-keys/${long}`, { headers: auth });
      expectShape(viaGateway, 414, 'uri_too_long');
      expectGatewayHeaders(viaGateway.headers);
      expectShape(
        await request(`${suite.admin.url}/api/v1/api-keys/${long}`, { headers: auth }),
        414,
        'uri_too_long',
      );
    });

    it('400 bad_request for a URL that is not valid percent-encoding, everywhere', async () => {
      for (const path of [
        '/api/v1/api-keys/%zz',
        '/api/v1/api-keys/%ED%A0%80',
        '/api/v1/findings/%E0%A4%A',
      ]) {
        const viaGateway = await request(`${gateway}${path}`, { headers: auth });
        expectShape(viaGateway, 400);
        expectGatewayHeaders(viaGateway.headers);
      }
      for (const service of services()) {
        const response = await request(`${service}/api/v1/api-keys/%zz`, { headers: auth });
        expectShape(response, 400, 'bad_request');
        expect(JSON.stringify(response.body)).not.toContain('%zz');
      }
    });

    it('431 request_header_too_large for oversized headers, a whole response with the gateway’s headers', async () => {
      const oversized = `GET /api/v1/findings HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`;
      const viaGateway = await rawRequest(gateway, oversized);
      expectShape(viaGateway, 431, 'request_header_too_large');
      expectGatewayHeaders(viaGateway.headers);
      expect(viaGateway.headers['connection']).toBe('close');
      expect(viaGateway.headers['content-type']).toBe('application/json; charset=utf-8');
      for (const service of services()) {
        expectShape(await rawRequest(service, oversized), 431, 'request_header_too_large');
      }
    });

    it.each([
      [
        'a Content-Length shorter than the body',
        (path: string) =>
          `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n` +
          '{"client_id":"abcdef"}',
      ],
      [
        'a Content-Length that is not a number',
        (path: string) =>
          `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ten\r\n\r\n{}`,
      ],
      ['a request line that is not HTTP', () => 'G@T / HTTP/1.1\r\nHost: x\r\n\r\n'],
      [
        'both Content-Length and Transfer-Encoding',
        (path: string) =>
          `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      ],
    ])('400 bad_request in the error shape for %s', async (_case, build) => {
      const path = '/api/v1/auth/m2m/authenticate';
      const viaGateway = await rawRequest(gateway, build(path));
      expectShape(viaGateway, 400, 'bad_request');
      expectGatewayHeaders(viaGateway.headers);
      for (const service of services())
        expectShape(await rawRequest(service, build(path)), 400, 'bad_request');
    });
  });
});
