import { connect, type Socket } from 'node:net';
import { generateApiKey } from '@gatehouse/crypto';
import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

/**
 * Clients that send a request slowly cannot freeze the gateway: a request without a credential on a route that
 * needs one is answered 401 at once (never forwarded, so its body never holds one of the few upstream
 * connections), and any request not received within REQUEST_TIMEOUT_MS (headers, or headers and body) is
 * answered 408 `request_timeout` in the error shape and its connection closed.
 */

const REQUEST_TIMEOUT_MS = 2000;

interface RawAnswer {
  /** Everything received until the server closed the connection (or the wait ended). */
  text: string;
  status: number;
  /** Milliseconds from the first byte sent to the first byte received. */
  answeredAfterMs: number;
  closed: boolean;
}

/** A connection to `origin` sending `head` (and nothing after it, unless written to `socket`). */
function open(
  origin: string,
  head: string,
): { socket: Socket; answer: (waitMs: number) => Promise<RawAnswer> } {
  const { hostname, port } = new URL(origin);
  const socket = connect({ host: hostname, port: Number(port) });
  const started = Date.now();
  let text = '';
  let answeredAfterMs = -1;
  let closed = false;
  const ended = new Promise<void>((resolve) => {
    socket.on('close', () => {
      closed = true;
      resolve();
    });
  });
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    if (answeredAfterMs < 0) answeredAfterMs = Date.now() - started;
    text += chunk;
  });
  socket.on('error', () => undefined);
  socket.write(head);
  return {
    socket,
    answer: async (waitMs) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      return { text, status, answeredAfterMs, closed };
    },
  };
}

function bodyOf(answer: RawAnswer): Record<string, unknown> {
  return JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
}

function slowPost(origin: string, headers: Record<string, string> = {}, path = '/api/v1/findings') {
  const { host } = new URL(origin);
  const lines = Object.entries({
    host,
    'content-type': 'application/json',
    'content-length': '1000',
    ...headers,
  }).map(([name, value]) => `${name}: ${value}`);
  return open(origin, `POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n{"findings":`);
}

describe('slow clients', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let token: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    suite = await startSuite({
      gatewayEnv: { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), UPSTREAM_CONNECTIONS: '2' },
    });
    owner = await suite.bootstrap('slow-clients');
    const response = await request(`${suite.gateway.url}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': owner.api_key },
      body: { client_id: owner.client_id },
    });
    token = response.body['access_token'] as string;
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  afterAll(async () => {
    await suite?.stop();
  });

  it('answers slow bodies without a credential 401 at once, and they do not starve a valid request', async () => {
    const slow = Array.from({ length: 4 }, () => slowPost(suite.gateway.url));
    sockets.push(...slow.map((connection) => connection.socket));
    const answers = await Promise.all(slow.map((connection) => connection.answer(1500)));
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.answeredAfterMs).toBeLessThan(1000);
      expect(bodyOf(answer)).toEqual({
        error: 'missing_token',
        message: 'Send an access token as Authorization: Bearer <token>',
        request_id: expect.any(String),
      });
      // Its body will never be read: the connection is not kept waiting for the rest of it.
      expect(answer.text).toMatch(/\r\nconnection: close\r\n/i);
      expect(answer.closed).toBe(true);
    }

    const started = Date.now();
    const valid = await request(`${suite.gateway.url}/api/v1/findings?limit=1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(valid.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('holds slow bodies with credentials a service would refuse at the gateway: valid requests still pass', async () => {
    const unknownKey = generateApiKey('live').secret;
    const slow = [
      slowPost(suite.gateway.url, { authorization: 'Bearer a.b.c' }),
      slowPost(suite.gateway.url, { authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.x' }),
      slowPost(suite.gateway.url, {}, '/api/v1/auth/m2m/authenticate'),
      slowPost(suite.gateway.url, { 'x-api-key': unknownKey }, '/api/v1/auth/m2m/authenticate'),
    ];
    sockets.push(...slow.map((connection) => connection.socket));
    // Both pools (UPSTREAM_CONNECTIONS=2) would be taken if these bodies were streamed to the services.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    const [findings, authenticated] = await Promise.all([
      request(`${suite.gateway.url}/api/v1/findings?limit=1`, {
        headers: { authorization: `Bearer ${token}` },
      }),
      request(`${suite.gateway.url}/api/v1/auth/m2m/authenticate`, {
        method: 'POST',
        headers: { 'x-api-key': owner.api_key },
        body: { client_id: owner.client_id },
      }),
    ]);
    expect(findings.status).toBe(200);
    expect(authenticated.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('gives the same 401 the service gives, on every route that needs a credential', async () => {
    const direct = await request(`${suite.findings[0].url}/api/v1/findings`);
    for (const path of ['/api/v1/findings', '/api/v1/api-keys', '/api/v1/audit-events/export']) {
      const response = await request(`${suite.gateway.url}${path}`);
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ ...direct.body, request_id: expect.any(String) });
    }
    // Not the routes that take no token: authenticate (its key) and leaked-key reports (a signature).
    const authenticate = await request(`${suite.gateway.url}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      body: { client_id: owner.client_id },
    });
    expect(authenticate.body['error']).toBe('missing_api_key');
    const report = await request(`${suite.gateway.url}/api/v1/leaked-keys`, { method: 'POST', body: [] });
    expect(report.body['error']).not.toBe('missing_token');
  });

  it('answers a slow body with a valid token 408 in the error shape once REQUEST_TIMEOUT_MS has passed', async () => {
    const slow = Array.from({ length: 3 }, () =>
      slowPost(suite.gateway.url, { authorization: `Bearer ${token}` }),
    );
    sockets.push(...slow.map((connection) => connection.socket));
    const answers = await Promise.all(slow.map((connection) => connection.answer(REQUEST_TIMEOUT_MS + 3000)));
    for (const answer of answers) {
      expect(answer.status).toBe(408);
      expect(answer.answeredAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
      expect(answer.answeredAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2000);
      expect(bodyOf(answer)).toEqual({
        error: 'request_timeout',
        message: 'The request was not received in time',
        request_id: expect.any(String),
      });
      expect(answer.closed).toBe(true);
    }
    // The upstream connections they held are free again.
    const valid = await request(`${suite.gateway.url}/api/v1/findings?limit=1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(valid.status).toBe(200);
  });

  it('answers a half-sent header 408 in the error shape', async () => {
    const { host } = new URL(suite.gateway.url);
    const connection = open(suite.gateway.url, `GET /api/v1/findings HTTP/1.1\r\nhost: ${host}\r\nx-partial`);
    sockets.push(connection.socket);
    const answer = await connection.answer(REQUEST_TIMEOUT_MS + 3000);
    expect(answer.status).toBe(408);
    expect(answer.answeredAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2000);
    expect(bodyOf(answer)).toEqual({
      error: 'request_timeout',
      message: 'The request was not received in time',
      request_id: expect.any(String),
    });
    expect(answer.closed).toBe(true);
  });
});
