import { GATEHOUSE_VERSION } from '@gatehouse/contracts';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import Fastify, { type FastifyInstance, type onResponseHookHandler } from 'fastify';
import {
  BIND_METRICS,
  bindMetrics,
  GatehouseMetrics,
  instrumentHttp,
  isMetricsAware,
  routeLabel,
  UNMATCHED_ROUTE,
  type MetricsAware,
} from './metrics';

/**
 * The value of one series of the text format, written `name{a="1",b="2"}` in any label order (prom-client puts
 * the default labels first on histograms, last on counters), or undefined when the series does not exist.
 */
function valueOf(text: string, series: string): number | undefined {
  const parse = (written: string) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?$/.exec(written);
    if (!match) throw new Error(`not a series: ${written}`);
    const labels = [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([pair]) => pair).sort();
    return `${match[1]}{${labels.join(',')}}`;
  };
  const wanted = parse(series);
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (parse(line.slice(0, space)) === wanted) return Number(line.slice(space + 1));
  }
  return undefined;
}

describe('routeLabel', () => {
  it.each([
    ['/api/v1/api-keys/:id', '/api/v1/api-keys/:id'],
    ['/health/live', '/health/live'],
    ['/', '/'],
    // The gateway's proxied prefixes, registered as `<prefix>/`, `<prefix>/*` and `<prefix>`.
    ['/api/v1/auth/*', '/api/v1/auth'],
    ['/api/v1/auth/', '/api/v1/auth'],
    ['/api/v1/auth', '/api/v1/auth'],
    ['/*', '/'],
  ])('labels %p as %p', (url, label) => {
    expect(routeLabel(url)).toBe(label);
  });

  it('labels requests without a route as unmatched', () => {
    expect(routeLabel(undefined)).toBe(UNMATCHED_ROUTE);
    expect(routeLabel('')).toBe(UNMATCHED_ROUTE);
  });
});

describe('GatehouseMetrics', () => {
  it('exposes its build, and none of the gauges named like counters that promtool refuses', async () => {
    const metrics = new GatehouseMetrics('auth-service');
    metrics.collectDefaultMetrics();
    const text = await metrics.expose();
    expect(text).toContain(
      `gatehouse_build_info{version="${GATEHOUSE_VERSION}",node_version="${process.versions.node}",gatehouse_service="auth-service"} 1`,
    );
    expect(text).not.toMatch(/^nodejs_active_\w+_total/m);
    expect(text).toContain('# TYPE nodejs_active_handles gauge');
  });

  it('labels every series with the service', async () => {
    const metrics = new GatehouseMetrics('auth-service');
    metrics.observeRequest('GET', '/health/live', 200, 3);
    const text = await metrics.expose();
    const samples = text.split('\n').filter((line) => line && !line.startsWith('#'));
    expect(samples.length).toBeGreaterThan(0);
    for (const line of samples) expect(line).toContain('gatehouse_service="auth-service"');
  });

  it('counts requests and records their duration in seconds, by method, route and status', async () => {
    const metrics = new GatehouseMetrics('admin-api');
    metrics.observeRequest('GET', '/api/v1/api-keys/:id', 200, 4);
    metrics.observeRequest('GET', '/api/v1/api-keys/:id', 200, 30);
    metrics.observeRequest('GET', '/api/v1/api-keys/:id', 404, 2);
    const text = await metrics.expose();
    const labels = 'method="GET",route="/api/v1/api-keys/:id",status="200",gatehouse_service="admin-api"';

    expect(valueOf(text, `http_requests_total{${labels}}`)).toBe(2);
    expect(
      valueOf(
        text,
        'http_requests_total{method="GET",route="/api/v1/api-keys/:id",status="404",gatehouse_service="admin-api"}',
      ),
    ).toBe(1);
    expect(valueOf(text, `http_request_duration_seconds_count{${labels}}`)).toBe(2);
    expect(valueOf(text, `http_request_duration_seconds_sum{${labels}}`)).toBeCloseTo(0.034, 6);
    expect(valueOf(text, `http_request_duration_seconds_bucket{le="0.005",${labels}}`)).toBe(1);
    expect(valueOf(text, `http_request_duration_seconds_bucket{le="0.05",${labels}}`)).toBe(2);
  });

  it('declares the rate-limit decisions at 0 once the gateway asks for them, for each policy and store', async () => {
    const metrics = new GatehouseMetrics('api-gateway');
    expect(await metrics.expose()).not.toContain('gatehouse_rate_limit_decisions_total');
    metrics
      .rateLimitDecisions(['authenticate', 'api'])
      .inc({ policy: 'api', decision: 'rejected', store: 'local' });
    const text = await metrics.expose();
    const series = (policy: string, decision: string, store: string) =>
      valueOf(
        text,
        `gatehouse_rate_limit_decisions_total{policy="${policy}",decision="${decision}",store="${store}",gatehouse_service="api-gateway"}`,
      );
    expect(series('authenticate', 'allowed', 'shared')).toBe(0);
    expect(series('authenticate', 'rejected', 'local')).toBe(0);
    expect(series('api', 'rejected', 'local')).toBe(1);
  });

  it('registers a domain group only when a component asks for it, at 0', async () => {
    const metrics = new GatehouseMetrics('auth-service');
    const before = await metrics.expose();
    expect(before).not.toContain('gatehouse_tokens_issued_total');
    expect(before).not.toContain('gatehouse_revocations_applied_total');
    expect(before).not.toContain('gatehouse_usage_flush_total');

    expect(metrics.tokenIssuance).toBe(metrics.tokenIssuance);
    expect(metrics.revocations).toBe(metrics.revocations);
    expect(metrics.usageFlushes).toBe(metrics.usageFlushes);
    const after = await metrics.expose();
    expect(valueOf(after, 'gatehouse_tokens_issued_total{gatehouse_service="auth-service"}')).toBe(0);
    expect(
      valueOf(after, 'gatehouse_authentications_total{outcome="success",gatehouse_service="auth-service"}'),
    ).toBe(0);
    for (const type of ['key_revoked', 'secret_retired']) {
      expect(
        valueOf(
          after,
          `gatehouse_revocations_applied_total{type="${type}",gatehouse_service="auth-service"}`,
        ),
      ).toBe(0);
    }
    for (const batch of ['last_used', 'usage_log']) {
      for (const result of ['success', 'partial', 'failure']) {
        expect(
          valueOf(
            after,
            `gatehouse_usage_flush_total{batch="${batch}",result="${result}",gatehouse_service="auth-service"}`,
          ),
        ).toBe(0);
      }
    }
  });

  it('counts usage flushes by batch and result', async () => {
    const metrics = new GatehouseMetrics('auth-service');
    metrics.recordUsageFlush('usage_log', 'success');
    metrics.recordUsageFlush('usage_log', 'success');
    metrics.recordUsageFlush('last_used', 'failure');
    const text = await metrics.expose();
    expect(
      valueOf(
        text,
        'gatehouse_usage_flush_total{batch="usage_log",result="success",gatehouse_service="auth-service"}',
      ),
    ).toBe(2);
    expect(
      valueOf(
        text,
        'gatehouse_usage_flush_total{batch="last_used",result="failure",gatehouse_service="auth-service"}',
      ),
    ).toBe(1);
  });

  it('reads the revocation set size at every scrape', async () => {
    const metrics = new GatehouseMetrics('findings-service');
    const sizes = { key_revoked: 2, secret_retired: 1 };
    metrics.revocations.watchSetSize(() => sizes);
    const series = (type: string) =>
      `gatehouse_revocation_set_size{type="${type}",gatehouse_service="findings-service"}`;

    let text = await metrics.expose();
    expect(valueOf(text, series('key_revoked'))).toBe(2);
    expect(valueOf(text, series('secret_retired'))).toBe(1);
    sizes.key_revoked = 5;
    text = await metrics.expose();
    expect(valueOf(text, series('key_revoked'))).toBe(5);
  });

  it('keeps apps of one process apart: own registries, no double registration', async () => {
    const first = new GatehouseMetrics('auth-service');
    const second = new GatehouseMetrics('auth-service');
    first.collectDefaultMetrics();
    first.collectDefaultMetrics();
    second.collectDefaultMetrics();
    first.tokenIssuance.issued.inc();

    const firstText = await first.expose();
    const secondText = await second.expose();
    expect(valueOf(firstText, 'gatehouse_tokens_issued_total{gatehouse_service="auth-service"}')).toBe(1);
    expect(secondText).not.toContain('gatehouse_tokens_issued_total');
    expect(firstText).toContain('process_cpu_user_seconds_total{gatehouse_service="auth-service"}');
    expect(secondText).toContain('nodejs_heap_size_used_bytes{gatehouse_service="auth-service"}');
  });

  it('serves the text exposition format', () => {
    expect(new GatehouseMetrics('x').contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});

describe('bindMetrics', () => {
  class Aware implements MetricsAware {
    bound: GatehouseMetrics[] = [];
    [BIND_METRICS](metrics: GatehouseMetrics): void {
      this.bound.push(metrics);
    }
  }

  @Injectable()
  class Plain {
    readonly value = 1;
  }

  const FACTORY_BUILT = 'FACTORY_BUILT';
  const ALIAS = 'ALIAS';

  @Module({
    providers: [
      Plain,
      { provide: FACTORY_BUILT, useFactory: () => new Aware() },
      { provide: ALIAS, useExisting: FACTORY_BUILT },
      { provide: 'A_VALUE', useValue: 42 },
      { provide: 'NOTHING', useValue: null },
    ],
  })
  class SomeModule {}

  it('hands the metrics to every metrics-aware provider once, however it was built', async () => {
    const app = await Test.createTestingModule({ imports: [SomeModule] }).compile();
    const metrics = new GatehouseMetrics('test');
    expect(bindMetrics(app, metrics)).toBe(1);
    expect(app.get<Aware>(FACTORY_BUILT).bound).toEqual([metrics]);
    await app.close();
  });

  it('recognises metrics-aware values by the method', () => {
    expect(isMetricsAware(new Aware())).toBe(true);
    expect(isMetricsAware({ bindMetrics: () => undefined })).toBe(false);
    expect(isMetricsAware(null)).toBe(false);
    expect(isMetricsAware('text')).toBe(false);
  });
});

describe('instrumentHttp', () => {
  let fastify: FastifyInstance;
  let metrics: GatehouseMetrics;
  let ownHook: jest.Mock;

  beforeEach(async () => {
    fastify = Fastify();
    metrics = new GatehouseMetrics('api-gateway');
    instrumentHttp(fastify, metrics);
    ownHook = jest.fn();
    const ownOnResponse: onResponseHookHandler = (_request, _reply, done) => {
      ownHook();
      done();
    };
    fastify.get('/api/v1/api-keys/:id', { onResponse: ownOnResponse }, async () => ({ ok: true }));
    fastify.post('/api/v1/findings', async (_request, reply) => reply.status(201).send({ accepted: 1 }));
    // A proxied prefix, the way @fastify/http-proxy registers it.
    await fastify.register(
      async (scope) => {
        scope.all('/', async () => 'root');
        scope.all('/*', async () => 'proxied');
      },
      { prefix: '/api/v1/auth' },
    );
    await fastify.ready();
  });

  afterEach(async () => {
    await fastify.close();
  });

  const count = async (labels: string) =>
    valueOf(await metrics.expose(), `http_requests_total{${labels},gatehouse_service="api-gateway"}`);

  it('labels with the route pattern, not the URL', async () => {
    await fastify.inject({ method: 'GET', url: '/api/v1/api-keys/5f0c7a4e-0000-4000-8000-000000000001' });
    await fastify.inject({ method: 'GET', url: '/api/v1/api-keys/5f0c7a4e-0000-4000-8000-000000000002' });
    expect(await count('method="GET",route="/api/v1/api-keys/:id",status="200"')).toBe(2);
    expect(await metrics.expose()).not.toContain('5f0c7a4e');
  });

  it('keeps the hooks a route declares itself', async () => {
    await fastify.inject({ method: 'GET', url: '/api/v1/api-keys/abc' });
    expect(ownHook).toHaveBeenCalledTimes(1);
  });

  it('records the status the client got', async () => {
    await fastify.inject({ method: 'POST', url: '/api/v1/findings', payload: {} });
    expect(await count('method="POST",route="/api/v1/findings",status="201"')).toBe(1);
  });

  it('counts everything under a proxied prefix under the prefix', async () => {
    await fastify.inject({ method: 'POST', url: '/api/v1/auth/m2m/authenticate' });
    await fastify.inject({ method: 'GET', url: '/api/v1/auth/jwks' });
    await fastify.inject({ method: 'GET', url: '/api/v1/auth' });
    expect(await count('method="POST",route="/api/v1/auth",status="200"')).toBe(1);
    expect(await count('method="GET",route="/api/v1/auth",status="200"')).toBe(2);
  });

  it('counts unknown paths under one label', async () => {
    await fastify.inject({ method: 'GET', url: '/wp-login.php' });
    await fastify.inject({ method: 'GET', url: '/etc/passwd' });
    expect(await count('method="GET",route="unmatched",status="404"')).toBe(2);
    expect(await metrics.expose()).not.toContain('wp-login');
  });
});

describe('gatehouse_redis_connected', () => {
  it('exists only once a connection is watched, and reads each connection at every scrape', async () => {
    const metrics = new GatehouseMetrics('api-gateway');
    expect(await metrics.expose()).not.toContain('gatehouse_redis_connected');
    let rateLimit = false;
    let publisher = true;
    const subscriber = true;
    metrics.watchRedisConnection('rate_limit', () => rateLimit);
    metrics.watchRedisConnection('revocation_publisher', () => publisher);
    metrics.watchRedisConnection('revocation_subscriber', () => subscriber);
    const read = async (client: string) =>
      valueOf(
        await metrics.expose(),
        `gatehouse_redis_connected{client="${client}",gatehouse_service="api-gateway"}`,
      );
    expect(await read('rate_limit')).toBe(0);
    expect(await read('revocation_publisher')).toBe(1);
    rateLimit = true;
    publisher = false;
    expect(await read('rate_limit')).toBe(1);
    expect(await read('revocation_publisher')).toBe(0);
    expect(await read('revocation_subscriber')).toBe(1);
  });

  it('counts a role as connected only when every connection of it is', async () => {
    const metrics = new GatehouseMetrics('api-gateway');
    metrics.watchRedisConnection('revocation_subscriber', () => true);
    metrics.watchRedisConnection('revocation_subscriber', () => false);
    expect(
      valueOf(
        await metrics.expose(),
        'gatehouse_redis_connected{client="revocation_subscriber",gatehouse_service="api-gateway"}',
      ),
    ).toBe(0);
  });
});
