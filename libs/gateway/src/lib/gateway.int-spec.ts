import 'reflect-metadata';
import { Module, type DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import { HttpServiceConfig, loadConfig } from '@gatehouse/config';
import { GatehouseError } from '@gatehouse/contracts';
import { createHttpApp, createLoggerModule, HealthModule, toErrorResponse } from '@gatehouse/http';
import type { RateLimiter } from '@gatehouse/rate-limit';
import type { AccessTokenInspector } from './access-token-inspector';
import type { RouteBodyLimit } from './body-limit';
import { registerGateway } from './gateway';
import { MISSING_TOKEN_MESSAGE, registerGatewayAccess } from './gateway-access.hook';
import type { KeyExchange } from './key-exchange';
import { rewriteToNormalizedUrl } from './path-normalization';
import { RateLimitOverrides } from './rate-limit-overrides';
import type { ProxyGuard } from './upstream-proxy';

/**
 * The gateway as main.ts composes it (createHttpApp + registerGateway), over real HTTP, in front of real local
 * upstreams that record what reaches them.
 */

const BODY_LIMIT = 1024;
const TIMEOUT_MS = 1500;
const DASHBOARD = 'https://dashboard.example.com';

// ---------------------------------------------------------------------------------------------------------------
// Upstreams

interface UpstreamRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Body bytes received so far. */
  bytes: number;
  /** The whole body arrived. */
  complete: boolean;
  /** SHA-256 (hex) of the body bytes as received, once complete. */
  sha256: string;
  /** The connection or the request is over (answered, or aborted by the gateway). */
  closed: boolean;
}

type Responder = (request: IncomingMessage, response: ServerResponse, record: UpstreamRequest) => void;

/** An HTTP server that records every request it gets, and lets a test wait for what it expects to see. */
class RecordingUpstream {
  readonly requests: UpstreamRequest[] = [];
  private readonly changes = new EventEmitter();
  private readonly server: Server;
  url = '';

  constructor(respond: Responder) {
    this.server = createServer((request, response) => {
      const record: UpstreamRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        bytes: 0,
        complete: false,
        sha256: '',
        closed: false,
      };
      const hash = createHash('sha256');
      this.requests.push(record);
      this.changed();
      request.on('data', (chunk: Buffer) => {
        record.bytes += chunk.length;
        hash.update(chunk);
        this.changed();
      });
      request.on('end', () => {
        record.sha256 = hash.digest('hex');
        record.complete = true;
        this.changed();
        respond(request, response, record);
      });
      request.on('close', () => {
        record.closed = true;
        this.changed();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Resolves with the first request that satisfies `test`, as soon as one does. */
  until(test: (request: UpstreamRequest) => boolean): Promise<UpstreamRequest> {
    return new Promise((resolve) => {
      const check = () => {
        const found = this.requests.find(test);
        if (!found) return;
        this.changes.off('change', check);
        resolve(found);
      };
      this.changes.on('change', check);
      check();
    });
  }

  to(path: string): UpstreamRequest[] {
    return this.requests.filter((request) => request.url.split('?')[0] === path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private changed(): void {
    this.changes.emit('change');
  }
}

/** Echoes what it received; `?extra=1` adds hop-by-hop, banner and CORS headers, `?cache=1` a Cache-Control. */
const echo: Responder = (request, response, record) => {
  const query = new URL(request.url ?? '/', 'http://upstream').searchParams;
  const body = JSON.stringify({
    method: record.method,
    url: record.url,
    headers: record.headers,
    bytes: record.bytes,
    sha256: record.sha256,
  });
  const size = Number(query.get('size') ?? 0);
  if (size > 0) {
    // A long answer: `size` bytes of a repeating pattern, chunked unless `sized=1` declares its length.
    const long = Buffer.alloc(size, 'gatehouse-');
    response.setHeader('content-type', 'application/x-ndjson');
    if (query.get('sized') === '1') response.setHeader('content-length', String(size));
    for (let at = 0; at < size; at += 16 * 1024) response.write(long.subarray(at, at + 16 * 1024));
    response.end();
    return;
  }
  response.setHeader('content-type', 'application/json');
  if (query.get('cache') === '1') response.setHeader('cache-control', 'public, max-age=300');
  if (query.get('extra') === '1') {
    response.setHeader('connection', 'keep-alive, x-hop');
    response.setHeader('x-hop', 'connection-specific');
    response.setHeader('keep-alive', 'timeout=99');
    response.setHeader('proxy-authenticate', 'Basic realm="upstream"');
    response.setHeader('upgrade', 'h2c');
    response.setHeader('trailer', 'x-checksum');
    response.setHeader('x-powered-by', 'Express');
    response.setHeader('server', 'upstream/1.0');
    response.setHeader('access-control-allow-origin', '*');
    response.setHeader('access-control-allow-credentials', 'true');
    response.setHeader('x-kept', 'yes');
    // Without Content-Length: chunked, so that the trailer is legal.
    response.write(body);
    response.addTrailers({ 'x-checksum': 'abc' });
    response.end();
    return;
  }
  response.end(body);
};

// ---------------------------------------------------------------------------------------------------------------
// Client: node:http, since fetch refuses to send hop-by-hop headers and hides Connection from the answer.

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

interface SendOptions {
  method?: string;
  headers?: OutgoingHttpHeaders;
  /** Sent with Content-Length. */
  body?: string | Buffer;
  /** Sent chunked, one write each. */
  chunks?: (string | Buffer)[];
}

const opened: ClientRequest[] = [];

function open(url: string, options: SendOptions = {}): { request: ClientRequest; answer: Promise<Answer> } {
  const headers: OutgoingHttpHeaders = { ...options.headers };
  if (options.chunks) headers['transfer-encoding'] = 'chunked';
  let request!: ClientRequest;
  const answer = new Promise<Answer>((resolve, reject) => {
    // A connection of its own for each request: no keep-alive state between tests.
    // The path as written: a URL object would resolve its dot segments before sending.
    const [, origin, path] = /^(https?:\/\/[^/]+)(.*)$/.exec(url) ?? [url, url, '/'];
    const { hostname, port } = new URL(origin);
    const target = { hostname, port, path: path || '/' };
    request = httpRequest(
      { ...target, method: options.method ?? 'GET', headers, agent: false },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
  });
  opened.push(request);
  return { request, answer };
}

async function send(url: string, options: SendOptions = {}): Promise<Answer> {
  const { request, answer } = open(url, options);
  for (const chunk of options.chunks ?? []) request.write(chunk);
  request.end(options.body);
  return answer;
}

function json(answer: Answer): Record<string, unknown> {
  return JSON.parse(answer.text) as Record<string, unknown>;
}

/** What the echo upstream says it received. */
function echoed(answer: Answer): {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bytes: number;
  sha256: string;
} {
  expect(answer.status).toBe(200);
  return json(answer) as never;
}

function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(json(answer)).toEqual({
    error: code,
    message: expect.any(String),
    request_id: answer.headers['x-request-id'],
  });
}

function expectSecurityHeaders(answer: Answer): void {
  expect(answer.headers).toMatchObject({
    'x-content-type-options': 'nosniff',
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  });
  expect(answer.headers).not.toHaveProperty('x-powered-by');
  expect(answer.headers).not.toHaveProperty('server');
}

// ---------------------------------------------------------------------------------------------------------------
// The gateway

@Module({})
class TestGatewayModule {
  static register(): DynamicModule {
    return {
      module: TestGatewayModule,
      imports: [createLoggerModule('api-gateway', 'silent'), HealthModule.forRoot()],
    };
  }
}

interface GatewaySetup {
  trustedProxies: string;
  corsOrigins: string[];
  routes: { prefix: string; upstream: string }[];
  guards?: ProxyGuard[];
  /** As main.ts: the path normalization before routing, and the secret sent to the services. */
  normalizePaths?: boolean;
  gatewaySecret?: string;
  /** BODY_LIMIT_BYTES; default BODY_LIMIT. */
  bodyLimitBytes?: number;
  routeBodyLimits?: RouteBodyLimit[];
}

async function startGateway(setup: GatewaySetup): Promise<{ app: NestFastifyApplication; url: string }> {
  const config = loadConfig(HttpServiceConfig, {
    PORT: '0',
    LOG_LEVEL: 'silent',
    BODY_LIMIT_BYTES: String(setup.bodyLimitBytes ?? BODY_LIMIT),
    TRUSTED_PROXIES: setup.trustedProxies,
  });
  const app = await createHttpApp(TestGatewayModule.register(), config, {
    parseJsonBodies: false,
    ...(setup.normalizePaths ? { rewriteUrl: rewriteToNormalizedUrl } : {}),
    configure: (nest) =>
      registerGateway(nest.getHttpAdapter().getInstance(), {
        routes: setup.routes,
        timeoutMs: TIMEOUT_MS,
        connectionsPerUpstream: 4,
        bodyLimitBytes: config.BODY_LIMIT_BYTES,
        routeBodyLimits: setup.routeBodyLimits,
        corsOrigins: setup.corsOrigins,
        guards: setup.guards,
        gatewaySecret: setup.gatewaySecret,
        apiDocs: { info: { title: 'Test', version: '1' } },
      }),
  });
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

/** A stand-in for the rate limiter to come: a guard that answers 429 itself and sets a gateway header. */
const fakeRateLimiter: ProxyGuard = (scope) => {
  scope.addHook('onRequest', (request, reply, done) => {
    request.headers['x-gatehouse-verified'] = 'by-the-gateway';
    if (!request.url.startsWith('/api/v1/echo/limited')) {
      done();
      return;
    }
    const response = toErrorResponse(new GatehouseError('rate_limit_exceeded', 'Slow down'), request.id);
    void reply
      .status(response.status)
      .headers(response.headers)
      .header('retry-after', '7')
      .send(response.body);
  });
};

describe('api gateway hardening (real HTTP, real upstreams)', () => {
  let upstream: RecordingUpstream;
  let slow: RecordingUpstream;
  let downUrl: string;
  let gateway: { app: NestFastifyApplication; url: string };
  /** TRUSTED_PROXIES=127.0.0.1 and no CORS_ORIGINS. */
  let trusting: { app: NestFastifyApplication; url: string };

  beforeAll(async () => {
    upstream = await new RecordingUpstream(echo).start();
    // Answers nothing: the gateway gives up after TIMEOUT_MS.
    slow = await new RecordingUpstream(() => undefined).start();
    // A port that was just in use and no longer is: connections are refused.
    const down = await new RecordingUpstream(echo).start();
    downUrl = down.url;
    await down.stop();

    const routes = [
      { prefix: '/api/v1/echo', upstream: upstream.url },
      { prefix: '/api/v1/slow', upstream: slow.url },
      { prefix: '/api/v1/down', upstream: downUrl },
    ];
    gateway = await startGateway({
      trustedProxies: '',
      corsOrigins: [DASHBOARD],
      routes,
      guards: [fakeRateLimiter],
    });
    trusting = await startGateway({ trustedProxies: '127.0.0.1', corsOrigins: [], routes });
  });

  afterAll(async () => {
    // A test that failed half-way may have left a request open, which would hold the gateway's close.
    for (const request of opened) request.destroy();
    await gateway?.app.close();
    await trusting?.app.close();
    await upstream?.stop();
    await slow?.stop();
  });

  describe('request body limit', () => {
    it('forwards a chunked body within the limit whole', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/small`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        chunks: ['a'.repeat(500), 'b'.repeat(400)],
      });
      expect(echoed(answer)).toMatchObject({ method: 'POST', bytes: 900 });
    });

    it('413 for a declared Content-Length above the limit, before anything is forwarded', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/declared`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: 'x'.repeat(BODY_LIMIT + 1),
      });
      expectError(answer, 413, 'payload_too_large');
      expectSecurityHeaders(answer);
      expect(answer.headers['cache-control']).toBe('no-store');
      // Refused in onRequest: the proxy never ran, so no upstream request can still be on its way.
      expect(upstream.to('/api/v1/echo/declared')).toEqual([]);
    });

    it('answers a declared 1 GiB body at once and closes the connection instead of reading the rest', async () => {
      // The client asks to keep the connection and sends only the start of its body, then waits.
      const { request, answer } = open(`${gateway.url}/api/v1/echo/huge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': 2 ** 30, connection: 'keep-alive' },
      });
      request.write('x'.repeat(BODY_LIMIT));
      const refused = await answer;
      expectError(refused, 413, 'payload_too_large');
      expect(refused.headers['connection']).toBe('close');
      expect(upstream.to('/api/v1/echo/huge')).toEqual([]);
    });

    it('receives a body whole before forwarding it: a slow sender holds no upstream connection', async () => {
      const path = '/api/v1/echo/slow';
      const { request, answer } = open(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'keep-alive' },
        chunks: [],
      });
      request.write('{"a":"');
      // The gateway has read the first part (its access hooks ran) and still forwards nothing.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(upstream.to(path)).toHaveLength(0);
      request.end('x"}');
      const forwarded = await answer;
      expect(forwarded.status).toBe(200);
      const seen = await upstream.until((candidate) => candidate.url === path && candidate.complete);
      expect(seen.bytes).toBe('{"a":"x"}'.length);
    });

    it('413 for a chunked body that crosses the limit; the upstream never sees the request', async () => {
      const path = '/api/v1/echo/chunked';
      const { request, answer } = open(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: DASHBOARD, connection: 'keep-alive' },
        chunks: [],
      });
      request.write('a'.repeat(600));
      // More, which crosses the limit; the client has not finished its body when the answer comes.
      request.write('b'.repeat(1000));

      const refused = await answer;
      expectError(refused, 413, 'payload_too_large');
      expectSecurityHeaders(refused);
      expect(refused.headers['access-control-allow-origin']).toBe(DASHBOARD);
      expect(refused.headers['connection']).toBe('close');
      expect(upstream.to(path)).toHaveLength(0);
    });

    it('413 for a chunked body sent at once; no upstream request gets to its end', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/burst`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        chunks: ['c'.repeat(3000), 'd'.repeat(3000)],
      });
      expectError(answer, 413, 'payload_too_large');
      // The body stream failed before its end, so an upstream request (if one started) can never complete.
      expect(upstream.to('/api/v1/echo/burst').filter((seen) => seen.complete)).toEqual([]);
    });
  });

  describe('headers towards the upstream', () => {
    it('strips hop-by-hop headers and those named in Connection', async () => {
      // Chunked, since Node's client sends a Trailer header only with a chunked body.
      const answer = await send(`${gateway.url}/api/v1/echo/hop`, {
        method: 'POST',
        chunks: ['{}'],
        headers: {
          'content-type': 'application/json',
          connection: 'keep-alive, x-connection-specific',
          'x-connection-specific': '1',
          'keep-alive': 'timeout=5',
          'proxy-authorization': 'Basic Zm9vOmJhcg==',
          'proxy-connection': 'keep-alive',
          te: 'trailers',
          trailer: 'x-checksum',
          // Forwarded, undici would refuse it and the client would get a 502.
          upgrade: 'h2c',
          'x-kept': 'yes',
        },
      });
      const { headers } = echoed(answer);
      for (const name of [
        'x-connection-specific',
        'keep-alive',
        'proxy-authorization',
        'proxy-connection',
        'te',
        'trailer',
        'upgrade',
      ]) {
        expect(headers).not.toHaveProperty(name);
      }
      // The gateway's own connection to the upstream: its pool's keep-alive, nothing of the client's.
      expect(headers['connection']).toBe('keep-alive');
      expect(headers['x-kept']).toBe('yes');
    });

    it('strips client X-Gatehouse-* headers; those the gateway sets reach the upstream', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/identity`, {
        headers: {
          'x-gatehouse-org': 'victim-org',
          'X-Gatehouse-Verified': 'by-the-client',
          'x-gatehouse-': 'empty-suffix',
        },
      });
      const { headers } = echoed(answer);
      expect(Object.keys(headers).filter((name) => name.startsWith('x-gatehouse-'))).toEqual([
        'x-gatehouse-verified',
      ]);
      expect(headers['x-gatehouse-verified']).toBe('by-the-gateway');
    });

    it('strips the client forwarding headers and forwards the peer address when no proxy is trusted', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/xff`, {
        headers: {
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'evil.example',
          'x-real-ip': '203.0.113.9',
          forwarded: 'for=203.0.113.9;proto=https',
        },
      });
      const { headers } = echoed(answer);
      expect(headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(headers['x-forwarded-proto']).toBe('http');
      expect(headers).not.toHaveProperty('x-forwarded-host');
      expect(headers).not.toHaveProperty('x-real-ip');
      expect(headers).not.toHaveProperty('forwarded');
    });

    it('behind a trusted proxy, forwards the client address that proxy reported, and only that one', async () => {
      const single = echoed(
        await send(`${trusting.url}/api/v1/echo/xff`, {
          headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' },
        }),
      );
      expect(single.headers['x-forwarded-for']).toBe('203.0.113.9');
      expect(single.headers['x-forwarded-proto']).toBe('https');

      // The leftmost entry was written by the client itself: only the trusted proxy's own entry counts.
      const chain = echoed(
        await send(`${trusting.url}/api/v1/echo/xff`, {
          headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' },
        }),
      );
      expect(chain.headers['x-forwarded-for']).toBe('203.0.113.9');

      const direct = echoed(await send(`${trusting.url}/api/v1/echo/xff`));
      expect(direct.headers['x-forwarded-for']).toBe('127.0.0.1');
    });

    it("forwards a well-formed client request id, and the gateway's own instead of any other", async () => {
      const kept = await send(`${gateway.url}/api/v1/echo/id`, {
        headers: { 'x-request-id': 'trace-12345678' },
      });
      expect(kept.headers['x-request-id']).toBe('trace-12345678');
      expect(echoed(kept).headers['x-request-id']).toBe('trace-12345678');

      for (const unsafe of ['short', 'has spaces in it', 'x'.repeat(129), 'quote"injection{}']) {
        const replaced = await send(`${gateway.url}/api/v1/echo/id`, { headers: { 'x-request-id': unsafe } });
        const id = replaced.headers['x-request-id'];
        expect(id).toMatch(/^[0-9a-f-]{36}$/);
        expect(echoed(replaced).headers['x-request-id']).toBe(id);
      }
    });
  });

  describe('headers towards the client', () => {
    it('strips hop-by-hop headers, banners and upstream CORS headers from a proxied response', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/out?extra=1`);
      expect(answer.status).toBe(200);
      expect(answer.headers['x-kept']).toBe('yes');
      expect(answer.headers).not.toHaveProperty('x-hop');
      expect(answer.headers).not.toHaveProperty('proxy-authenticate');
      expect(answer.headers).not.toHaveProperty('upgrade');
      expect(answer.headers).not.toHaveProperty('trailer');
      expect(answer.headers).not.toHaveProperty('access-control-allow-origin');
      expect(answer.headers).not.toHaveProperty('access-control-allow-credentials');
      // The test client asks for Connection: close; the upstream's Keep-Alive must not contradict it.
      expect(answer.headers['connection']).toBe('close');
      expect(answer.headers).not.toHaveProperty('keep-alive');
      expectSecurityHeaders(answer);
    });

    it('security headers and Cache-Control: no-store on a proxied 200', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/plain`);
      expect(answer.status).toBe(200);
      expectSecurityHeaders(answer);
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers['x-request-id']).toBeDefined();
    });

    it("keeps the upstream's own Cache-Control (the JWKS is cacheable)", async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/jwks?cache=1`);
      expect(answer.status).toBe(200);
      expect(answer.headers['cache-control']).toBe('public, max-age=300');
      expectSecurityHeaders(answer);
    });

    it('security headers on a 404 of the gateway itself', async () => {
      const answer = await send(`${gateway.url}/api/v1/nope`);
      expectError(answer, 404, 'not_found');
      expectSecurityHeaders(answer);
      expect(answer.headers['cache-control']).toBe('no-store');
    });

    it('security headers on its own routes (health)', async () => {
      const answer = await send(`${gateway.url}/health/live`);
      expect(answer.status).toBe(200);
      expectSecurityHeaders(answer);
    });
  });

  describe('answers', () => {
    const pattern = (size: number) => Buffer.alloc(size, 'gatehouse-').toString('utf8');

    it.each([
      ['chunked', 300 * 1024, ''],
      ['of a declared length above the whole-answer size', 300 * 1024, '&sized=1'],
      ['of a declared length below it', 1000, '&sized=1'],
    ])('relays an answer %s whole, byte for byte, once', async (_kind, size, extra) => {
      const answer = await send(`${gateway.url}/api/v1/echo/export?size=${size}${extra}`);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/x-ndjson');
      expect(answer.text).toBe(pattern(size));
      expectSecurityHeaders(answer);
    });

    it('answers HEAD with the headers only', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/export?size=1000&sized=1`, { method: 'HEAD' });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-length']).toBe('1000');
      expect(answer.text).toBe('');
    });
  });

  describe('upstream failures', () => {
    it('502 bad_gateway, with the security headers, when the upstream is down', async () => {
      const answer = await send(`${gateway.url}/api/v1/down/anything`, { headers: { origin: DASHBOARD } });
      expectError(answer, 502, 'bad_gateway');
      expectSecurityHeaders(answer);
      expect(answer.headers['access-control-allow-origin']).toBe(DASHBOARD);
      expect(answer.headers['cache-control']).toBe('no-store');
    });

    it('504 gateway_timeout when the upstream sends no response headers in time; its request is cut', async () => {
      const answer = await send(`${gateway.url}/api/v1/slow/report`);
      expectError(answer, 504, 'gateway_timeout');
      expectSecurityHeaders(answer);
      const seen = await slow.until((request) => request.url === '/api/v1/slow/report' && request.closed);
      expect(seen.method).toBe('GET');
    });
  });

  describe('CORS', () => {
    const exposed =
      'X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, WWW-Authenticate';

    it('an allowed origin gets its Access-Control-Allow-Origin on a proxied response, without credentials', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/cors?extra=1`, {
        headers: { origin: DASHBOARD },
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['access-control-allow-origin']).toBe(DASHBOARD);
      expect(answer.headers['access-control-expose-headers']).toBe(exposed);
      expect(answer.headers['vary']).toMatch(/\bOrigin\b/);
      expect(answer.headers).not.toHaveProperty('access-control-allow-credentials');
    });

    it('another origin gets no Access-Control-Allow-Origin', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/cors?extra=1`, {
        headers: { origin: 'https://evil.example.com' },
      });
      expect(answer.status).toBe(200);
      expect(answer.headers).not.toHaveProperty('access-control-allow-origin');
    });

    it('answers a preflight itself, without forwarding it', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/preflight`, {
        method: 'OPTIONS',
        headers: {
          origin: DASHBOARD,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      expect(answer.status).toBe(204);
      expect(answer.headers).toMatchObject({
        'access-control-allow-origin': DASHBOARD,
        'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
        'access-control-allow-headers': 'Authorization, Content-Type, X-API-Key, X-Request-Id',
        'access-control-max-age': '600',
      });
      expect(answer.headers).not.toHaveProperty('access-control-allow-credentials');
      expectSecurityHeaders(answer);
      expect(upstream.to('/api/v1/echo/preflight')).toEqual([]);
    });

    it('answers a preflight from another origin without Access-Control-Allow-Origin', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/preflight-evil`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'DELETE' },
      });
      expect(answer.status).toBe(204);
      expect(answer.headers).not.toHaveProperty('access-control-allow-origin');
      expect(upstream.to('/api/v1/echo/preflight-evil')).toEqual([]);
    });

    it('puts the CORS and security headers on a 404 and on a guard’s 429 too', async () => {
      const missing = await send(`${gateway.url}/api/v1/nope`, { headers: { origin: DASHBOARD } });
      expectError(missing, 404, 'not_found');
      expect(missing.headers['access-control-allow-origin']).toBe(DASHBOARD);

      const limited = await send(`${gateway.url}/api/v1/echo/limited`, { headers: { origin: DASHBOARD } });
      expectError(limited, 429, 'rate_limit_exceeded');
      expect(limited.headers['retry-after']).toBe('7');
      expect(limited.headers['access-control-allow-origin']).toBe(DASHBOARD);
      expectSecurityHeaders(limited);
      expect(upstream.to('/api/v1/echo/limited')).toEqual([]);
    });

    it('checks the body limit before the guards', async () => {
      const answer = await send(`${gateway.url}/api/v1/echo/limited`, {
        method: 'POST',
        body: 'x'.repeat(BODY_LIMIT + 1),
      });
      expectError(answer, 413, 'payload_too_large');
    });

    it('without CORS_ORIGINS: no CORS header at all, and a preflight is a 404 of the gateway', async () => {
      const answer = await send(`${trusting.url}/api/v1/echo/no-cors`, { headers: { origin: DASHBOARD } });
      expect(answer.status).toBe(200);
      expect(Object.keys(answer.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);

      const preflight = await send(`${trusting.url}/api/v1/echo/no-cors-preflight`, {
        method: 'OPTIONS',
        headers: { origin: DASHBOARD, 'access-control-request-method': 'POST' },
      });
      expectError(preflight, 404, 'not_found');
      expect(Object.keys(preflight.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
      expectSecurityHeaders(preflight);
      expect(upstream.to('/api/v1/echo/no-cors-preflight')).toEqual([]);
    });
  });
});

describe('api gateway path normalization (real HTTP, real upstreams)', () => {
  const SECRET = 'a-gateway-secret-of-at-least-32-characters';
  const PREFIXES = [
    '/api/v1/auth/m2m/authenticate',
    '/api/v1/findings',
    '/api/v1/api-keys',
    '/api/v1/audit-events',
    '/api/v1/leaked-keys',
  ];
  let upstream: RecordingUpstream;
  let gateway: { app: NestFastifyApplication; url: string };
  /** The path each guarded request had when the gateway's own hooks (its limits) judged it. */
  const judged: string[] = [];

  const policyProbe: ProxyGuard = (scope) => {
    scope.addHook('onRequest', (request, _reply, done) => {
      judged.push(request.url);
      done();
    });
  };

  beforeAll(async () => {
    upstream = await new RecordingUpstream(echo).start();
    gateway = await startGateway({
      trustedProxies: '',
      corsOrigins: [],
      routes: [
        { prefix: '/api/v1/auth', upstream: upstream.url },
        ...PREFIXES.slice(1).map((prefix) => ({ prefix, upstream: upstream.url })),
      ],
      guards: [policyProbe],
      normalizePaths: true,
      gatewaySecret: SECRET,
    });
  });

  afterAll(async () => {
    for (const request of opened) request.destroy();
    await gateway?.app.close();
    await upstream?.stop();
  });

  beforeEach(() => {
    judged.length = 0;
    upstream.requests.length = 0;
  });

  /** `/api/v1/findings` → `/api/v1/%66indings`: the first letter of the last segment encoded. */
  function firstLetterEncoded(path: string, hex = (code: number) => code.toString(16)): string {
    const at = path.lastIndexOf('/') + 1;
    return `${path.slice(0, at)}%${hex(path.charCodeAt(at))}${path.slice(at + 1)}`;
  }

  function everyLetterEncoded(path: string): string {
    return path.replace(
      /(?<=^\/api\/v1\/.*)[a-z-]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  }

  describe.each(PREFIXES)('%s', (prefix) => {
    it.each([
      ['as it is', prefix],
      ['with one letter encoded', firstLetterEncoded(prefix)],
      [
        'with one letter encoded in upper-case hex',
        firstLetterEncoded(prefix, (c) => c.toString(16).toUpperCase()),
      ],
      ['with every letter encoded', everyLetterEncoded(prefix)],
    ])('%s: routed, judged and forwarded as the one normalized path', async (_case, path) => {
      const answer = await send(`${gateway.url}${path}/sub?q=%2F..`, { method: 'POST', body: '{}' });
      const received = echoed(answer);
      expect(received.url).toBe(`${prefix}/sub?q=%2F..`);
      expect(judged).toEqual([`${prefix}/sub?q=%2F..`]);
      expect(received.headers['x-gatehouse-gateway-secret']).toBe(SECRET);
    });

    it.each([
      ['a double-encoded letter', firstLetterEncoded(prefix, (c) => `25${c.toString(16)}`)],
      ['an encoded slash', `${prefix}%2Fsub`],
      ['an encoded backslash', `${prefix}%5csub`],
      ['a dot-dot segment', `${prefix}/../sub`],
      ['an encoded dot-dot segment', `${prefix}/%2e%2E/sub`],
      ['a dot segment', `${prefix}/./sub`],
      ['NUL', `${prefix}%00`],
      ['an invalid escape', `${prefix}%zz`],
      ['invalid UTF-8', `${prefix}/%C3%28`],
      ['a duplicate slash', prefix.replace('/api/v1/', '/api/v1//')],
    ])(
      '%s: 400 bad_request with the security headers, judged by no hook, never forwarded',
      async (_case, path) => {
        const answer = await send(`${gateway.url}${path}`, { method: 'POST', body: '{}' });
        expectError(answer, 400, 'bad_request');
        expectSecurityHeaders(answer);
        expect(judged).toEqual([]);
        expect(upstream.requests).toEqual([]);
      },
    );
  });

  it('keeps case: /API/v1/findings is no route of the gateway (nor of the services)', async () => {
    const answer = await send(`${gateway.url}/API/v1/findings`);
    expect(answer.status).toBe(404);
    expect(upstream.requests).toEqual([]);
  });

  it('re-encodes what must not travel decoded, so the service reads the same path', async () => {
    const answer = await send(`${gateway.url}/api/v1/findings/a%3fb%23c`);
    expect(echoed(answer).url).toBe('/api/v1/findings/a%3Fb%23c');
  });

  it("drops a client's gateway-secret header: only the gateway's own reaches the service", async () => {
    const answer = await send(`${gateway.url}/api/v1/findings`, {
      headers: { 'x-gatehouse-gateway-secret': 'forged-by-the-client-0000000000000000' },
    });
    expect(echoed(answer).headers['x-gatehouse-gateway-secret']).toBe(SECRET);
  });
});

describe('api gateway body limit per route: POST /api/v1/findings takes scanners’ reports', () => {
  const MiB = 1024 * 1024;
  /** BODY_LIMIT_BYTES and FINDINGS_UPLOAD_LIMIT_BYTES at their defaults. */
  const DEFAULT_LIMIT = MiB;
  const UPLOAD_LIMIT = 10 * MiB;
  const UPLOAD = '/api/v1/findings';
  /** Any token the gateway cannot verify itself: the service judges it (here: the echo upstream accepts it). */
  const BEARER = { authorization: 'Bearer header.payload.signature' };
  const SARIF_GZIP = {
    ...BEARER,
    'content-type': 'application/sarif+json',
    'content-encoding': 'gzip',
  };
  let upstream: RecordingUpstream;
  let gateway: { app: NestFastifyApplication; url: string };

  /** The gateway's real access hook, as main.ts mounts it; no rate limit, so no Redis, token or key is needed. */
  const access: ProxyGuard = (scope) =>
    registerGatewayAccess(scope, {
      // Never called with rate limits off; a token that is not a Gatehouse one is never inspected further.
      limiter: {} as RateLimiter,
      rateLimitsEnabled: false,
      authenticateRule: { limit: 30, burst: 10, windowSeconds: 1 },
      failureRule: { maxFailures: 20, windowSeconds: 60, blockSeconds: 300 },
      userRule: { limit: 300, burst: 50, windowSeconds: 60 },
      defaultKeyLimit: { requestsPerMinute: 600, burst: 100 },
      inspector: { inspect: () => Promise.resolve(undefined) } as unknown as AccessTokenInspector,
      exchange: {} as KeyExchange,
      overrides: new RateLimitOverrides(),
      authenticatePath: '/api/v1/auth/m2m/authenticate',
      apiPrefixes: [UPLOAD, '/api/v1/api-keys'],
      credentialPrefixes: [UPLOAD, '/api/v1/api-keys'],
    });

  /** A gzipped SARIF 2.1.0 report of roughly `compressedBytes`: random messages, which gzip barely shrinks. */
  function gzippedSarif(compressedBytes: number): Buffer {
    const results = Array.from({ length: Math.ceil(compressedBytes / 150) }, (_, index) => ({
      ruleId: `rule-${index % 40}`,
      level: 'warning',
      message: { text: randomBytes(144).toString('base64') },
      locations: [
        { physicalLocation: { artifactLocation: { uri: 'src/app.ts' }, region: { startLine: index } } },
      ],
    }));
    return gzipSync(
      JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'scanner' } }, results }] }),
    );
  }

  /** Valid gzip of exactly `bytes` bytes: random data in stored blocks, adjusted until the size is right. */
  function gzipOfExactly(bytes: number): Buffer {
    let payload = bytes - 4096;
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const gzip = gzipSync(randomBytes(payload), { level: 0 });
      if (gzip.length === bytes) return gzip;
      payload += bytes - gzip.length;
    }
    throw new Error(`no gzip of exactly ${bytes} bytes`);
  }

  const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

  /**
   * Sends `total` bytes chunked, a chunk at a time, and stops sending once the gateway has answered: a client
   * that keeps writing to a closed connection would have its unread answer discarded by the reset.
   */
  async function sendChunkedUntilAnswered(url: string, total: number): Promise<Answer> {
    const { request, answer } = open(url, { method: 'POST', headers: SARIF_GZIP, chunks: [] });
    let answered = false;
    const settled = answer.then(
      () => (answered = true),
      () => (answered = true),
    );
    const chunk = Buffer.alloc(256 * 1024, 'x');
    for (let sent = 0; sent < total && !answered; sent += chunk.length) {
      if (!request.write(chunk)) await Promise.race([once(request, 'drain'), settled]);
    }
    return answer;
  }

  beforeAll(async () => {
    upstream = await new RecordingUpstream(echo).start();
    gateway = await startGateway({
      trustedProxies: '',
      corsOrigins: [],
      routes: [
        { prefix: UPLOAD, upstream: upstream.url },
        { prefix: '/api/v1/api-keys', upstream: upstream.url },
      ],
      guards: [access],
      normalizePaths: true,
      bodyLimitBytes: DEFAULT_LIMIT,
      routeBodyLimits: [{ method: 'POST', path: UPLOAD, limitBytes: UPLOAD_LIMIT }],
    });
  });

  afterAll(async () => {
    for (const request of opened) request.destroy();
    await gateway?.app.close();
    await upstream?.stop();
  });

  beforeEach(() => {
    upstream.requests.length = 0;
  });

  describe('a report above BODY_LIMIT_BYTES', () => {
    let report: Buffer;

    beforeAll(() => {
      report = gzippedSarif(2 * MiB);
    });

    it('is a 2 MiB gzip, above the default limit', () => {
      expect(report.length).toBeGreaterThan(1.9 * MiB);
      expect(report.length).toBeLessThan(2.5 * MiB);
      expect(JSON.parse(gunzipSync(report).toString('utf8'))).toMatchObject({ version: '2.1.0' });
    });

    it.each([
      ['as it is', UPLOAD],
      ['with a query string', `${UPLOAD}?repository=acme%2Fapi&ref=refs%2Fheads%2Fmain&tool=semgrep`],
      ['spelled with an encoded letter', '/api/v1/%66indings'],
    ])(
      'reaches findings-service byte for byte, still gzip and SARIF, when sent to POST %s',
      async (_case, path) => {
        const answer = await send(`${gateway.url}${path}`, {
          method: 'POST',
          headers: SARIF_GZIP,
          body: report,
        });
        const received = echoed(answer);
        expect(received.url.split('?')[0]).toBe(UPLOAD);
        expect(received.bytes).toBe(report.length);
        expect(received.sha256).toBe(sha256(report));
        expect(received.headers).toMatchObject({
          'content-type': 'application/sarif+json',
          'content-encoding': 'gzip',
          'content-length': String(report.length),
        });
      },
    );

    it('passes chunked too, byte for byte', async () => {
      const half = Math.floor(report.length / 2);
      const answer = await send(`${gateway.url}${UPLOAD}`, {
        method: 'POST',
        headers: SARIF_GZIP,
        chunks: [report.subarray(0, half), report.subarray(half)],
      });
      expect(echoed(answer).sha256).toBe(sha256(report));
    });

    it('passes with Expect: 100-continue, as curl sends a large upload', async () => {
      const { request, answer } = open(`${gateway.url}${UPLOAD}`, {
        method: 'POST',
        headers: { ...SARIF_GZIP, expect: '100-continue', 'content-length': report.length },
      });
      request.on('continue', () => request.end(report));
      expect(echoed(await answer).sha256).toBe(sha256(report));
    });

    it.each([
      ['another route', 'POST', '/api/v1/api-keys'],
      ['another method of the same path', 'PUT', UPLOAD],
      ['a path below it', 'POST', `${UPLOAD}/import`],
      ['its path with a trailing slash', 'POST', `${UPLOAD}/`],
    ])(
      'is refused on %s (%s %s): 413 naming BODY_LIMIT_BYTES, never forwarded',
      async (_case, method, path) => {
        const answer = await send(`${gateway.url}${path}`, { method, headers: SARIF_GZIP, body: report });
        expectError(answer, 413, 'payload_too_large');
        expect(json(answer)['message']).toBe(`Request body is larger than ${DEFAULT_LIMIT} bytes`);
        expect(upstream.requests).toEqual([]);
      },
    );

    it('is refused chunked on another route as soon as it crosses BODY_LIMIT_BYTES', async () => {
      const answer = await send(`${gateway.url}/api/v1/api-keys`, {
        method: 'POST',
        headers: SARIF_GZIP,
        chunks: [report.subarray(0, DEFAULT_LIMIT), 'x'],
      });
      expectError(answer, 413, 'payload_too_large');
      expect(json(answer)['message']).toBe(`Request body is larger than ${DEFAULT_LIMIT} bytes`);
      expect(upstream.requests).toEqual([]);
    });
  });

  it('passes a report of exactly FINDINGS_UPLOAD_LIMIT_BYTES (10 MiB), well within the upstream timeout', async () => {
    const report = gzipOfExactly(UPLOAD_LIMIT);
    const started = performance.now();
    const answer = await send(`${gateway.url}${UPLOAD}`, {
      method: 'POST',
      headers: SARIF_GZIP,
      body: report,
    });
    const received = echoed(answer);
    expect(received.bytes).toBe(UPLOAD_LIMIT);
    expect(received.sha256).toBe(sha256(report));
    // The test gateway gives the upstream 1.5 s to answer (UPSTREAM_TIMEOUT_MS defaults to 10 s).
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS);
  });

  it('413 naming the limit for a declared Content-Length above it, at once: the body is never read', async () => {
    const { request, answer } = open(`${gateway.url}${UPLOAD}`, {
      method: 'POST',
      headers: { ...SARIF_GZIP, 'content-length': UPLOAD_LIMIT + 1, connection: 'keep-alive' },
    });
    request.write(Buffer.alloc(64 * 1024));
    const refused = await answer;
    expectError(refused, 413, 'payload_too_large');
    expect(json(refused)['message']).toBe(`Request body is larger than ${UPLOAD_LIMIT} bytes`);
    expect(refused.headers['connection']).toBe('close');
    expect(upstream.requests).toEqual([]);
  });

  it('413 naming the limit for a chunked report that crosses it, before anything is forwarded', async () => {
    const refused = await sendChunkedUntilAnswered(`${gateway.url}${UPLOAD}`, UPLOAD_LIMIT + MiB);
    expectError(refused, 413, 'payload_too_large');
    expect(json(refused)['message']).toBe(`Request body is larger than ${UPLOAD_LIMIT} bytes`);
    expect(refused.headers['connection']).toBe('close');
    expect(upstream.requests).toEqual([]);
  });

  it('judges the credentials before reading the body: 401 for a 10 MiB upload without any, at once', async () => {
    // Headers and the first 64 KiB only: the answer comes without the rest of the body ever being sent.
    const { request, answer } = open(`${gateway.url}${UPLOAD}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/sarif+json',
        'content-encoding': 'gzip',
        'content-length': UPLOAD_LIMIT,
        connection: 'keep-alive',
      },
    });
    request.write(Buffer.alloc(64 * 1024));
    const refused = await answer;
    expectError(refused, 401, 'missing_token');
    expect(json(refused)['message']).toBe(MISSING_TOKEN_MESSAGE);
    expect(refused.headers['connection']).toBe('close');
    expect(upstream.requests).toEqual([]);
  });
});
