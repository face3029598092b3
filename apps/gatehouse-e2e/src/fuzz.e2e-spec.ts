import { connect } from 'node:net';
import fc from 'fast-check';
import { Client } from 'pg';
import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';
import {
  CONTENT_TYPES,
  closeFuzzAgent,
  HANG_MS,
  nastyQuery,
  nastyRawBody,
  nastySegment,
  nastyString,
  nastyValue,
  operationsOf,
  problemsWith,
  rawRequest,
  type Operation,
  type RawResponse,
} from './support/fuzz';

/**
 * The fuzz tier: malformed bodies, queries, paths and headers thrown at every operation of the merged OpenAPI
 * document, through the gateway and straight at each service, over HTTP against the real suite. Every answer must
 * be a success or a 4xx in the one error shape (never a 5xx, never a hang), and nothing may be stored from a
 * refused request.
 *
 * Deterministic by default (a fixed seed, as CI runs it); `FUZZ_SEED=<n>` or `FUZZ_SEED=random` and
 * `FUZZ_RUNS=<n>` (cases per operation and property, default 20) widen a local run.
 */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 20);
const SEED =
  process.env['FUZZ_SEED'] === 'random' ? Date.now() : Number(process.env['FUZZ_SEED'] ?? 20261203);

jest.setTimeout(600_000);

describe('fuzz: hostile input at every route', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let ownerToken: string;
  let operations: Operation[];
  const sacrificialKeyIds: string[] = [];
  /** Request ids the suite refused: no audit row may carry one. */
  const refusedRequestIds: string[] = [];
  let acceptedFindings = 0;
  let createdKeys = 0;
  let sequence = 0;

  beforeAll(async () => {
    suite = await startSuite({ gatewayEnv: { AUTH_FAILURES_PER_IP: '100000' } });
    owner = await suite.bootstrap('fuzz-org');
    const gateway = suite.gateway.url;
    const token = await request(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': owner.api_key },
      body: { client_id: owner.client_id },
    });
    ownerToken = token.body['access_token'] as string;
    const auth = { authorization: `Bearer ${ownerToken}` };
    // The fuzz sends more than a plan's minute allows: the owner key's own limit is raised out of the way.
    const raised = await request(`${gateway}/api/v1/api-keys/${owner.api_key_id}/rate-limit`, {
      method: 'PUT',
      headers: auth,
      body: { requests_per_minute: 100_000, burst: 10_000 },
    });
    expect(raised.status).toBe(200);
    for (const clientId of ['fuzz-target-a', 'fuzz-target-b', 'fuzz-target-c']) {
      const created = await request(`${gateway}/api/v1/api-keys`, {
        method: 'POST',
        headers: auth,
        body: { name: clientId, client_id: clientId, permissions: ['write:findings'] },
      });
      expect(created.status).toBe(201);
      sacrificialKeyIds.push(created.body['id'] as string);
    }
    const docs = await request<Parameters<typeof operationsOf>[0]>(`${gateway}/api/docs`);
    expect(docs.status).toBe(200);
    operations = operationsOf(docs.body);
  });

  afterAll(async () => {
    closeFuzzAgent();
    await suite?.stop();
  });

  /** Sends one case, records what it changed, and throws with the case when the answer is wrong. */
  const send = async (
    baseUrl: string,
    init: { method: string; path: string; headers?: Record<string, string>; body?: string },
  ): Promise<RawResponse> => {
    const requestId = `fuzz-${process.pid}-${++sequence}`;
    const headers: Record<string, string> = { 'x-request-id': requestId, ...init.headers };
    let response: RawResponse;
    try {
      response = await rawRequest(baseUrl, { ...init, headers });
    } catch (error) {
      // A reset connection is a legitimate answer to some requests (a 413 closes it); a hang is not.
      const message = (error as Error).message;
      if (message.includes('no answer within')) throw new Error(`${init.method} ${init.path}: ${message}`);
      return { status: 0, headers: {}, text: '' };
    }
    const problems = problemsWith(response, init.method);
    if (problems.length > 0) {
      throw new Error(
        `${init.method} ${init.path.slice(0, 300)} (${JSON.stringify(headers).slice(0, 300)}, body ` +
          `${JSON.stringify(init.body?.slice(0, 300))}): ${problems.join('; ')}`,
      );
    }
    if (response.status >= 400) refusedRequestIds.push(requestId);
    if (response.status === 201 && init.method === 'POST') {
      const body = JSON.parse(response.text) as { new?: number; api_key?: string };
      // Findings are deduplicated: only those an upload saw first are new rows.
      if (init.path.startsWith('/api/v1/findings')) acceptedFindings += body.new ?? 0;
      if (init.path.startsWith('/api/v1/api-keys') && body.api_key) createdKeys += 1;
    }
    return response;
  };

  const credentials = (): fc.Arbitrary<Record<string, string>> =>
    fc.oneof(
      {
        weight: 8,
        arbitrary: fc.constant<Record<string, string>>({ authorization: `Bearer ${ownerToken}` }),
      },
      { weight: 1, arbitrary: fc.constant<Record<string, string>>({}) },
      { weight: 1, arbitrary: fc.constant<Record<string, string>>({ 'x-api-key': owner.api_key }) },
      {
        weight: 1,
        arbitrary: nastyString().map((value) => ({
          authorization: `Bearer ${Buffer.from(value)
            .toString('latin1')
            .replace(/[^\x20-\x7e]/g, '')}`,
        })),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom<Record<string, string>>(
          { authorization: 'Bearer' },
          { authorization: 'Basic Zm9vOmJhcg==' },
          { authorization: `bearer ${ownerToken}` },
          { authorization: `Bearer ${ownerToken}x` },
          { authorization: `Bearer  ${ownerToken}` },
          { authorization: `Bearer ${'a'.repeat(7000)}` },
          { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' },
          { 'x-api-key': 'gth_live_' },
          { 'x-api-key': `${owner.api_key}${owner.api_key}` },
        ),
      },
    );

  const fillPath = (template: string, segments: string[]): string => {
    let index = 0;
    return template.replace(/\{[^}]+\}/g, () => segments[index++] ?? 'x');
  };

  /** Bodies: the schema's own example spoiled one field at a time, foreign documents, and bytes that are no JSON. */
  const body = (operation: Operation): fc.Arbitrary<{ text: string; contentType: string }> => {
    const example = operation.exampleBody;
    const spoiled: fc.Arbitrary<unknown>[] = [nastyValue()];
    if (example && typeof example === 'object' && !Array.isArray(example)) {
      const fields = Object.keys(example);
      if (fields.length > 0) {
        spoiled.push(
          fc
            .tuple(fc.constantFrom(...fields), nastyValue())
            .map(([field, value]) => ({ ...example, [field]: value })),
        );
      }
      spoiled.push(nastyString().map((name) => ({ ...example, [name || 'extra']: 1 })));
    }
    if (Array.isArray(example)) spoiled.push(fc.array(nastyValue(), { maxLength: 5 }));
    const json = fc.oneof(...spoiled).map((value) => JSON.stringify(value) ?? 'null');
    return fc.record({
      text: fc.oneof({ weight: 3, arbitrary: json }, { weight: 1, arbitrary: nastyRawBody() }),
      contentType: fc.oneof(
        { weight: 4, arbitrary: fc.constant('application/json') },
        { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      ),
    });
  };

  const fuzzOperation = async (baseUrl: string, operation: Operation, runs: number) => {
    const segments = fc.array(nastySegment(sacrificialKeyIds), {
      minLength: operation.pathParams.length,
      maxLength: operation.pathParams.length,
    });
    const query = nastyQuery(operation.queryParams.map((parameter) => parameter.name));
    const sendsBody = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(operation.method);
    await fc.assert(
      fc.asyncProperty(
        segments,
        fc.option(query, { freq: 2 }),
        sendsBody ? fc.option(body(operation), { freq: 8 }) : fc.constant(null),
        credentials(),
        async (pathSegments, queryString, payload, auth) => {
          const path = fillPath(operation.path, pathSegments) + (queryString ? `?${queryString}` : '');
          const headers: Record<string, string> = { ...auth };
          if (payload) headers['content-type'] = payload.contentType;
          await send(baseUrl, { method: operation.method, path, headers, body: payload?.text });
        },
      ),
      { numRuns: runs, seed: SEED, endOnFailure: true },
    );
  };

  it('every operation of /api/docs, through the gateway', async () => {
    expect(operations.length).toBeGreaterThanOrEqual(15);
    for (const operation of operations) await fuzzOperation(suite.gateway.url, operation, RUNS);
  });

  it('every operation, straight at the service that owns it (as anything inside the cluster could)', async () => {
    const owners: [string, string][] = [
      ['/api/v1/auth', suite.auth.url],
      ['/api/v1/findings', suite.findings[0].url],
      ['/api/v1/api-keys', suite.admin.url],
      ['/api/v1/audit-events', suite.admin.url],
      ['/api/v1/leaked-keys', suite.admin.url],
    ];
    for (const operation of operations) {
      const service = owners.find(([prefix]) => operation.path.startsWith(prefix))?.[1];
      if (service) await fuzzOperation(service, operation, Math.ceil(RUNS / 2));
    }
  });

  it('path spellings: every prefix percent-encoded, dotted, doubled and cut, on every method', async () => {
    const prefixes = [...new Set(operations.map((operation) => operation.path.split('/{')[0]))];
    const respell = (path: string): fc.Arbitrary<string> =>
      fc
        .array(
          fc.constantFrom<(p: string) => string>(
            (p) => p.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`),
            (p) => p.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
            (p) => p.replace(/\//g, '%2F'),
            (p) => p.replace('/v1/', '/v1/./'),
            (p) => p.replace('/v1/', '/v1/x/../'),
            (p) => p.replace('/v1/', '/v1/%2e%2e/v1/'),
            (p) => p.replace('/v1/', '/v1//'),
            (p) => p.replace(/\/([a-z])/, '/%25$1'),
            (p) => `${p}/`,
            (p) => `${p};x=1`,
            (p) => `${p}%00`,
            (p) => `${p}%`,
            (p) => `${p}%C0%AF`,
            (p) => p.toUpperCase(),
            (p) => `${p}?%zz=%zz`,
          ),
          { minLength: 1, maxLength: 3 },
        )
        .map((edits) => edits.reduce((spelling, edit) => edit(spelling), path));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...prefixes).chain(respell),
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
        credentials(),
        async (path, method, auth) => {
          const headers = method === 'POST' ? { ...auth, 'content-type': 'application/json' } : auth;
          await send(suite.gateway.url, {
            method,
            path,
            headers,
            body: method === 'POST' ? '{}' : undefined,
          });
        },
      ),
      { numRuns: RUNS * 10, seed: SEED, endOnFailure: true },
    );
  });

  it('header abuse: oversized, repeated, conflicting and malformed headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations),
        fc.constantFrom<Record<string, string>>(
          { 'x-request-id': 'x'.repeat(200) },
          { 'x-request-id': '../../' },
          { 'x-forwarded-for': '1.2.3.4, 5.6.7.8' },
          { 'x-forwarded-for': 'not-an-ip' },
          { forwarded: 'for="[::1]";proto=https' },
          { 'x-gatehouse-client-ip': '10.0.0.1' },
          { 'content-encoding': 'gzip' },
          { 'content-encoding': 'br, gzip' },
          { 'transfer-encoding': 'identity' },
          { expect: '100-continue' },
          { 'x-huge': 'h'.repeat(20_000) },
          { cookie: 'a=b'.repeat(3000) },
          { 'x-api-key': 'k'.repeat(10_000) },
          { authorization: `Bearer ${'e'.repeat(15_000)}` },
          { 'content-type': 'application/json; charset=' + 'x'.repeat(1000) },
          { accept: 'application/xml' },
          { 'accept-encoding': 'gzip;q=2, *;q=-1' },
        ),
        async (operation, extra) => {
          const path = fillPath(
            operation.path,
            operation.pathParams.map(() => sacrificialKeyIds[0]),
          );
          const headers: Record<string, string> = { authorization: `Bearer ${ownerToken}`, ...extra };
          const sendsBody = ['POST', 'PUT'].includes(operation.method);
          if (sendsBody) headers['content-type'] ??= 'application/json';
          await send(suite.gateway.url, {
            method: operation.method,
            path,
            headers,
            body: sendsBody ? JSON.stringify(operation.exampleBody ?? {}) : undefined,
          });
        },
      ),
      { numRuns: RUNS * 4, seed: SEED, endOnFailure: true },
    );
  });

  it('raw bytes on the socket: framing the HTTP client would not send', async () => {
    const url = new URL(suite.gateway.url);
    const cases = [
      // A body longer than its Content-Length: the rest is read as the next request.
      `POST /api/v1/findings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ownerToken}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}garbage`,
      'GET /api/v1/findings HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n',
      'GET /api/v1/findings HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n',
      'GET /api/v1/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /api/v1/findings\u0000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      `GET /api/v1/findings HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(70_000)}\r\nConnection: close\r\n\r\n`,
      'POST /api/v1/auth/m2m/authenticate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      'GET http://evil.example/api/v1/findings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ];
    for (const raw of cases) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname);
        const chunks: Buffer[] = [];
        socket.setTimeout(HANG_MS, () => {
          socket.destroy();
          reject(new Error(`no answer within ${HANG_MS} ms to ${raw.slice(0, 80)}`));
        });
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('error', () => resolve(Buffer.concat(chunks).toString('latin1')));
        socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
        socket.write(raw);
      });
      // The first answer on the connection is the one that judges the request as sent.
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
      const bodyStart = answer.indexOf('\r\n\r\n') + 4;
      const headerBlock = answer.slice(0, bodyStart);
      const lengthMatch = /content-length: (\d+)/i.exec(headerBlock);
      const text = lengthMatch ? answer.slice(bodyStart, bodyStart + Number(lengthMatch[1])) : '';
      const problems = problemsWith({ status, headers: {}, text }, 'GET');
      if (Number.isNaN(status)) problems.push('no HTTP answer');
      if (problems.length > 0)
        throw new Error(`${JSON.stringify(raw.slice(0, 120))}: ${problems.join('; ')}`);
      if (status >= 400) expect(headerBlock.toLowerCase()).toContain('x-content-type-options: nosniff');
    }
  });

  it('logged no credential: no key, no token, wherever the fuzz put them', () => {
    const output = [suite.gateway, suite.auth, suite.admin, ...suite.findings]
      .map((service) => service.output())
      .join('\n');
    expect(output.length).toBeGreaterThan(0);
    expect(output).not.toContain(owner.api_key);
    expect(output).not.toContain(ownerToken);
    expect(output).not.toMatch(/gth_(live|test)_[0-9A-Za-z]{20,}/);
    expect(output).not.toMatch(/eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]+/);
  });

  it('stored nothing from a refused request', async () => {
    expect(refusedRequestIds.length).toBeGreaterThan(100);
    const client = new Client({ connectionString: suite.database.url });
    await client.connect();
    try {
      const audited = await client.query<{ count: string }>(
        'SELECT count(*) FROM audit_events WHERE request_id = ANY($1)',
        [refusedRequestIds],
      );
      expect(Number(audited.rows[0].count)).toBe(0);
      const findings = await client.query<{ count: string }>('SELECT count(*) FROM findings');
      expect(Number(findings.rows[0].count)).toBe(acceptedFindings);
      const keys = await client.query<{ count: string }>('SELECT count(*) FROM api_keys');
      // The owner key, the three targets, and every key a 201 created.
      expect(Number(keys.rows[0].count)).toBe(1 + sacrificialKeyIds.length + createdKeys);
    } finally {
      await client.end();
    }
  });
});
