import { randomBytes } from 'node:crypto';
import {
  type BootstrapOutput,
  createDataDir,
  createMigratedTestDatabase,
  type OtlpReceiver,
  type ReceivedSpan,
  request,
  type RunningSuite,
  startOtlpReceiver,
  startService,
  startStandalone,
  startSuite,
  TEST_REDIS_URL,
} from '@gatehouse/testing';

const SERVER = 2;
const CLIENT = 3;

/** A client's own trace context, as a traced caller (a CI job, another system) sends it. */
function clientTraceContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** The chain of spans from `span` up to the first one whose parent is not in `trace` (its root here). */
function ancestry(span: ReceivedSpan, trace: ReceivedSpan[]): ReceivedSpan[] {
  const chain = [span];
  for (;;) {
    const parent = trace.find((candidate) => candidate.spanId === chain[0].parentSpanId);
    if (!parent) return chain;
    chain.unshift(parent);
  }
}

const path = (span: ReceivedSpan) => span.attributes['url.path'];

/** Whether `spans` hold, in trace `traceId`, a span of `service` of that kind (each process exports on its own). */
const has = (spans: ReceivedSpan[], traceId: string, service: string, kind: number) =>
  spans.some((span) => span.traceId === traceId && span.service === service && span.kind === kind);

/**
 * Tracing with the OTEL_* variables set as an operator sets them: the separate processes export OTLP/JSON to a
 * receiver of this test's own, and one request through the gateway is one trace, from the gateway's span down to
 * the service's and its database queries.
 */
describe('tracing (OpenTelemetry)', () => {
  let receiver: OtlpReceiver;
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let gateway: string;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    suite = await startSuite({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        // Batches sent every 100 ms instead of 5 s, so that the test does not wait.
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
    });
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('tracing-org');
  });

  afterAll(async () => {
    await suite?.stop();
    await receiver?.close();
  });

  const authenticate = (traceparent: string) =>
    request<Record<string, unknown>>(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': owner.api_key, traceparent },
      body: { client_id: owner.client_id },
    });

  it('makes an authentication through the gateway one trace: the gateway, then auth-service', async () => {
    const client = clientTraceContext();
    const response = await authenticate(client.traceparent);
    expect(response.status).toBe(200);

    const spans = await receiver.waitFor(
      (all) =>
        has(all, client.traceId, 'auth-service', SERVER) &&
        has(all, client.traceId, 'api-gateway', SERVER) &&
        has(all, client.traceId, 'api-gateway', CLIENT),
    );
    const trace = spans.filter((span) => span.traceId === client.traceId);
    const gatewayServer = trace.find((span) => span.service === 'api-gateway' && span.kind === SERVER);
    const authServer = trace.find((span) => span.service === 'auth-service' && span.kind === SERVER);
    expect(path(gatewayServer!)).toBe('/api/v1/auth/m2m/authenticate');
    expect(path(authServer!)).toBe('/api/v1/auth/m2m/authenticate');
    // Named after the routes matched: the gateway's proxy route, the service's own.
    expect(gatewayServer!.name).toBe('POST /api/v1/auth/*');
    expect(authServer).toEqual(
      expect.objectContaining({
        name: 'POST /api/v1/auth/m2m/authenticate',
        attributes: expect.objectContaining({ 'http.route': '/api/v1/auth/m2m/authenticate' }),
      }),
    );
    // The client's traceparent is accepted as the parent of the gateway's span...
    expect(gatewayServer!.parentSpanId).toBe(client.spanId);
    // ...and auth-service's span is the child of the gateway's request to it, not of the client's span.
    const chain = ancestry(authServer!, trace);
    expect(chain[0]).toBe(gatewayServer);
    const upstreamCall = trace.find((span) => span.spanId === authServer!.parentSpanId);
    expect(upstreamCall).toEqual(expect.objectContaining({ service: 'api-gateway', kind: CLIENT }));
    expect(chain.map((span) => span.service)).toEqual(['api-gateway', 'api-gateway', 'auth-service']);
  });

  it('makes a findings upload through the gateway one trace: the gateway, findings-service and PostgreSQL', async () => {
    const token = await authenticate(clientTraceContext().traceparent);
    expect(token.status).toBe(200);
    const client = clientTraceContext();
    const response = await request(`${gateway}/api/v1/findings`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${String(token.body['access_token'])}`,
        traceparent: client.traceparent,
      },
      body: {
        findings: [
          { rule_id: 'R1', title: 'Hard-coded secret', severity: 'high', location: { path: 'a.ts' } },
        ],
      },
    });
    expect(response.status).toBeLessThan(300);

    const isQuery = (span: ReceivedSpan) =>
      span.service === 'findings-service' &&
      span.scope === '@opentelemetry/instrumentation-pg' &&
      span.kind === CLIENT;
    const spans = await receiver.waitFor(
      (all) =>
        all.some((span) => span.traceId === client.traceId && isQuery(span)) &&
        has(all, client.traceId, 'findings-service', SERVER) &&
        has(all, client.traceId, 'api-gateway', SERVER) &&
        has(all, client.traceId, 'api-gateway', CLIENT),
    );
    const trace = spans.filter((span) => span.traceId === client.traceId);
    const gatewayServer = trace.find((span) => span.service === 'api-gateway' && span.kind === SERVER);
    const findingsServer = trace.find((span) => span.service === 'findings-service' && span.kind === SERVER);
    expect(path(gatewayServer!)).toBe('/api/v1/findings');
    expect(path(findingsServer!)).toBe('/api/v1/findings');
    expect(ancestry(findingsServer!, trace)[0]).toBe(gatewayServer);
    const queries = trace.filter(isQuery);
    // Every query of the upload is in the request's trace, under findings-service's span.
    for (const query of queries) expect(ancestry(query, trace)).toContain(findingsServer);
    const statements = queries.map((query) => query.attributes['db.query.text']);
    expect(statements).toContainEqual(expect.stringMatching(/^insert/i));
  });

  it('records query strings without their values: a credential in the URL never leaves in a span', async () => {
    const client = clientTraceContext();
    const secret = `secret-${randomBytes(8).toString('hex')}`;
    const response = await fetch(`${gateway}/api/v1/auth/jwks?access_token=${secret}`, {
      headers: { traceparent: client.traceparent },
    });
    expect(response.status).toBe(200);
    const spans = await receiver.waitFor(
      (all) =>
        has(all, client.traceId, 'auth-service', SERVER) &&
        has(all, client.traceId, 'api-gateway', SERVER) &&
        has(all, client.traceId, 'api-gateway', CLIENT),
    );
    const trace = spans.filter((span) => span.traceId === client.traceId);
    expect(JSON.stringify(trace)).not.toContain(secret);
    const servers = trace.filter((span) => span.kind === SERVER);
    for (const span of servers) expect(span.attributes['url.query']).toBe('access_token=REDACTED');
    const upstreamCall = trace.find((span) => span.kind === CLIENT);
    expect(upstreamCall!.attributes['url.full']).toMatch(/\/api\/v1\/auth\/jwks\?access_token=REDACTED$/);
    // What arrived at the receiver, not only what was decoded.
    for (const received of receiver.exports) expect(received.body.includes(secret)).toBe(false);
  });

  it("writes the trace id in the gateway's request log line", async () => {
    const client = clientTraceContext();
    expect((await authenticate(client.traceparent)).status).toBe(200);
    const output = await suite.gateway.waitForOutput(new RegExp(`"trace_id":"${client.traceId}"`));
    const line = output
      .split('\n')
      .filter((text) => text.includes(client.traceId))
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((entry) => entry['message'] === 'request completed');
    expect(line).toEqual(
      expect.objectContaining({
        trace_id: client.traceId,
        span_id: expect.stringMatching(/^[0-9a-f]{16}$/),
        req: expect.objectContaining({ url: '/api/v1/auth/m2m/authenticate' }),
      }),
    );
    // The gateway's own span, not the client's.
    expect(line!['span_id']).not.toBe(client.spanId);
  });
});

/**
 * Loaded into an app before its bundle (NODE_OPTIONS=--import): when the process exits, writes the OpenTelemetry
 * packages it loaded, as one JSON line on stderr.
 */
const REPORT_LOADED_OPENTELEMETRY = `data:text/javascript,${encodeURIComponent(
  [
    "import Module from 'node:module';",
    'const cache = Module._cache;',
    "process.on('exit', () => {",
    "  const loaded = Object.keys(cache).filter((path) => path.includes('/node_modules/@opentelemetry/'));",
    "  const packages = [...new Set(loaded.map((path) => path.split('/node_modules/').at(-1).split('/').slice(0, 2).join('/')))];",
    "  process.stderr.write(JSON.stringify({ opentelemetry_loaded: packages.sort() }) + '\\n');",
    '});',
  ].join('\n'),
)}`;

describe('tracing off (the default)', () => {
  it('loads nothing of the OpenTelemetry SDK in a service: only the API, whose calls are then no-ops', async () => {
    const database = await createMigratedTestDatabase();
    try {
      const service = await startService('auth-service', {
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        NODE_OPTIONS: `--import=${REPORT_LOADED_OPENTELEMETRY}`,
      });
      expect((await request(`${service.url}/api/v1/auth/jwks`)).status).toBe(200);
      expect(await service.stop()).toBe(0);
      const report = service
        .output()
        .split('\n')
        .find((line) => line.startsWith('{"opentelemetry_loaded"'));
      expect(JSON.parse(report ?? '{}')).toEqual({ opentelemetry_loaded: ['@opentelemetry/api'] });
    } finally {
      await database.drop();
    }
  });
});

describe('tracing configuration', () => {
  it('stops an app at start on OTEL_EXPORTER_OTLP_PROTOCOL=grpc, naming the variable', async () => {
    // Stopped again should it start after all, so that a failure here leaves no process behind.
    const output = await startService('api-gateway', {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    }).then(
      async (service) => {
        await service.stop();
        return `started at ${service.url}`;
      },
      (error: Error) => error.message,
    );
    expect(output).toMatch(/exited with 1 before listening/);
    const fatal = JSON.parse(output.split('\n').find((line) => line.startsWith('{')) ?? '{}') as Record<
      string,
      unknown
    >;
    expect(fatal).toEqual({
      level: 'fatal',
      service: 'api-gateway',
      message: expect.stringContaining('OTEL_EXPORTER_OTLP_PROTOCOL must be one of http/protobuf, http/json'),
    });
  });
});

/**
 * OTLP/HTTP in protobuf, the default encoding, from one service alone; with the SDK's usual 5 s between batches,
 * the span of the last request reaches the receiver only because the graceful shutdown flushes it on SIGTERM.
 */
describe('tracing in http/protobuf, flushed at shutdown', () => {
  it("exports the last request's span as protobuf when the service is stopped", async () => {
    const receiver = await startOtlpReceiver();
    const database = await createMigratedTestDatabase();
    try {
      const service = await startService('auth-service', {
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_SERVICE_NAME: 'auth-service-protobuf-test',
        OTEL_BSP_SCHEDULE_DELAY: '60000',
      });
      try {
        const jwks = await request(`${service.url}/api/v1/auth/jwks`);
        expect(jwks.status).toBe(200);
        expect(receiver.exports).toHaveLength(0);
      } finally {
        expect(await service.stop()).toBe(0);
      }
      expect(receiver.exports.length).toBeGreaterThan(0);
      const body = Buffer.concat(receiver.exports.map((received) => received.body));
      for (const received of receiver.exports) expect(received.contentType).toBe('application/x-protobuf');
      // Protobuf keeps strings as their UTF-8 bytes: OTEL_SERVICE_NAME and the request's path are in there.
      expect(body.includes('auth-service-protobuf-test')).toBe(true);
      expect(body.includes('/api/v1/auth/jwks')).toBe(true);
    } finally {
      await database.drop();
      await receiver.close();
    }
  });
});

/**
 * Standalone mode: four apps in one process, one SDK. Each app's bundle starts tracing too; only the host's start
 * counts, so a request is traced once (a second SDK would wrap the http server twice: two spans per request).
 */
describe('tracing in standalone mode', () => {
  it('traces the four apps of the process with one SDK, as gatehouse-standalone', async () => {
    const receiver = await startOtlpReceiver();
    const dataDir = createDataDir();
    try {
      const suite = await startStandalone(dataDir.path, {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      });
      try {
        const owner = await suite.bootstrap('tracing-standalone');
        const client = clientTraceContext();
        const response = await request(`${suite.gateway}/api/v1/auth/m2m/authenticate`, {
          method: 'POST',
          headers: { 'x-api-key': owner.api_key, traceparent: client.traceparent },
          body: { client_id: owner.client_id },
        });
        expect(response.status).toBe(200);
        const inTrace = (all: ReceivedSpan[]) => all.filter((span) => span.traceId === client.traceId);
        const spans = await receiver.waitFor(
          (all) => inTrace(all).filter((span) => span.kind === SERVER).length >= 2,
        );
        const trace = inTrace(spans);
        const servers = trace.filter((span) => span.kind === SERVER);
        expect(servers.map((span) => span.name).sort()).toEqual([
          'POST /api/v1/auth/*',
          'POST /api/v1/auth/m2m/authenticate',
        ]);
        for (const span of trace) expect(span.service).toBe('gatehouse-standalone');
        const gatewayServer = servers.find((span) => span.name === 'POST /api/v1/auth/*');
        const authServer = servers.find((span) => span.name === 'POST /api/v1/auth/m2m/authenticate');
        expect(ancestry(authServer!, trace)[0]).toBe(gatewayServer);
      } finally {
        expect((await suite.stop()).code).toBe(0);
      }
    } finally {
      dataDir.remove();
      await receiver.close();
    }
  });
});
