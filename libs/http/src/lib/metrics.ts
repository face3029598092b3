import type { INestApplicationContext } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { GATEHOUSE_VERSION } from '@gatehouse/contracts';

/** Where every app serves its metrics: on its management port only (see management-server.ts). */
export const METRICS_PATH = '/metrics';

/** Injection token of the service's name (`auth-service`, …), provided by `createLoggerModule`. */
export const SERVICE_NAME = 'GATEHOUSE_SERVICE_NAME';

/**
 * The label naming the app on every series. Not `service`: Prometheus' Kubernetes discovery gives every target a
 * `service` label of its own (the Kubernetes Service), and a scraped label of that name would be renamed
 * `exported_service`.
 */
export const SERVICE_LABEL = 'gatehouse_service';

/**
 * prom-client's gauges named like counters (`_total`), which `promtool check metrics` refuses; the same counts
 * stay as `nodejs_active_handles`, `nodejs_active_requests` and `nodejs_active_resources`, by type.
 */
const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The route label of requests that matched no route, so that scanners cannot create one series per URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Seconds; from a cached token check (sub-millisecond) to a slow findings upload. */
export const HTTP_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What a revocation set holds: whole revoked keys, and secrets retired by a rotation. */
export type RevocationKind = 'key_revoked' | 'secret_retired';

/** Which batched write a flush belongs to: last-used times, or the per-key usage log. */
export type UsageBatch = 'last_used' | 'usage_log';

/** `partial`: the database refused some rows of the batch (they are dropped); `failure`: kept for a retry. */
export type UsageFlushResult = 'success' | 'partial' | 'failure';

export type RateLimitOutcome = 'allowed' | 'rejected';

/** `shared`: decided on Redis for every replica; `local`: by this instance alone (no Redis, or Redis down). */
export type RateLimitStoreKind = 'shared' | 'local';

type HttpLabel = 'method' | 'route' | 'status';

/** The Redis connections an app holds, by what they are for. */
export type RedisClientRole = 'revocation_publisher' | 'revocation_subscriber' | 'rate_limit';

export interface TokenIssuanceMetrics {
  issued: Counter;
  authentications: Counter<'outcome'>;
}

export interface RevocationMetrics {
  applied: Counter<'type'>;
  /** Reports the size of a revocation set at every scrape. */
  watchSetSize(sizes: () => Record<RevocationKind, number>): void;
}

/**
 * One Prometheus registry per app (never prom-client's global one, so that several apps in one test process do
 * not collide), with the {@link SERVICE_LABEL} label on every series, and `gatehouse_build_info`. HTTP metrics exist on every app; the domain groups are registered the first time a component asks for them, so that a service only
 * exposes the series it can move.
 */
export class GatehouseMetrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<HttpLabel>;
  readonly httpRequestDuration: Histogram<HttpLabel>;
  private defaultMetrics = false;
  private tokens: TokenIssuanceMetrics | undefined;
  private revocationGroup: RevocationMetrics | undefined;
  private usageFlushCounter: Counter<'batch' | 'result'> | undefined;
  private rateLimitCounter: Counter<'policy' | 'decision' | 'store'> | undefined;
  private readonly redisConnections = new Map<RedisClientRole, (() => boolean)[]>();

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ [SERVICE_LABEL]: service });
    const registers = [this.registry];
    new Gauge({
      name: 'gatehouse_build_info',
      help: 'Always 1: the release of Gatehouse and the Node.js version this app runs',
      labelNames: ['version', 'node_version'],
      registers,
    }).set({ version: GATEHOUSE_VERSION, node_version: process.versions.node }, 1);
    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpRequestDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from the first byte of a request to the last byte of its response, by route pattern',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_DURATION_BUCKETS,
      registers,
    });
  }

  /** The Node.js process metrics (CPU, memory, event loop lag, GC, handles). Only for a served app. */
  collectDefaultMetrics(): void {
    if (this.defaultMetrics) return;
    this.defaultMetrics = true;
    collectDefaultMetrics({ register: this.registry });
    for (const name of MISNAMED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
  }

  /** Hot path: one labels object, two updates. */
  observeRequest(method: string, route: string, status: number, durationMs: number): void {
    const labels = { method, route, status };
    this.httpRequests.inc(labels);
    this.httpRequestDuration.observe(labels, durationMs / 1000);
  }

  get tokenIssuance(): TokenIssuanceMetrics {
    if (!this.tokens) {
      const registers = [this.registry];
      const authentications = new Counter({
        name: 'gatehouse_authentications_total',
        help: 'API key authentication attempts, by outcome (`success` or the error code of the refusal)',
        labelNames: ['outcome'],
        registers,
      });
      authentications.inc({ outcome: 'success' }, 0);
      this.tokens = {
        issued: new Counter({
          name: 'gatehouse_tokens_issued_total',
          help: 'Access tokens issued',
          registers,
        }),
        authentications,
      };
    }
    return this.tokens;
  }

  get revocations(): RevocationMetrics {
    if (!this.revocationGroup) {
      const registers = [this.registry];
      const applied = new Counter({
        name: 'gatehouse_revocations_applied_total',
        help: "Entries added to this node's revocation set (from the bus, a reconcile or a local revocation)",
        labelNames: ['type'],
        registers,
      });
      const kinds: RevocationKind[] = ['key_revoked', 'secret_retired'];
      for (const type of kinds) applied.inc({ type }, 0);
      const sources: (() => Record<RevocationKind, number>)[] = [];
      const setSize: Gauge<'type'> = new Gauge({
        name: 'gatehouse_revocation_set_size',
        help: "Entries in this node's revocation set, by type",
        labelNames: ['type'],
        registers,
        collect: () => {
          for (const type of kinds) {
            setSize.set(
              { type },
              sources.reduce((total, sizes) => total + sizes()[type], 0),
            );
          }
        },
      });
      this.revocationGroup = { applied, watchSetSize: (sizes) => void sources.push(sizes) };
    }
    return this.revocationGroup;
  }

  get usageFlushes(): Counter<'batch' | 'result'> {
    if (!this.usageFlushCounter) {
      const counter = new Counter({
        name: 'gatehouse_usage_flush_total',
        help: 'Flushes of batched usage writes that had rows to write, by batch and result',
        labelNames: ['batch', 'result'],
        registers: [this.registry],
      });
      const batches: UsageBatch[] = ['last_used', 'usage_log'];
      const results: UsageFlushResult[] = ['success', 'partial', 'failure'];
      for (const batch of batches) for (const result of results) counter.inc({ batch, result }, 0);
      this.usageFlushCounter = counter;
    }
    return this.usageFlushCounter;
  }

  /**
   * The gateway's limiter decisions, by policy, decision and the store that decided: a rising `local` count means
   * Redis is unreachable and each replica enforces the limits on its own.
   */
  rateLimitDecisions(policies: readonly string[]): Counter<'policy' | 'decision' | 'store'> {
    if (!this.rateLimitCounter) {
      const counter = new Counter({
        name: 'gatehouse_rate_limit_decisions_total',
        help: 'Rate-limit decisions, by policy, decision (allowed, rejected) and store (shared, local)',
        labelNames: ['policy', 'decision', 'store'],
        registers: [this.registry],
      });
      const decisions: RateLimitOutcome[] = ['allowed', 'rejected'];
      const stores: RateLimitStoreKind[] = ['shared', 'local'];
      for (const policy of policies)
        for (const decision of decisions)
          for (const store of stores) counter.inc({ policy, decision, store }, 0);
      this.rateLimitCounter = counter;
    }
    return this.rateLimitCounter;
  }

  /**
   * Reports a Redis connection as `gatehouse_redis_connected{client}` (1 connected, 0 not) at every scrape, from
   * the moment it is watched, so that an alert on `== 0` also fires for a connection that never came up. Several
   * connections of one role count as connected only when all of them are.
   */
  watchRedisConnection(client: RedisClientRole, connected: () => boolean): void {
    if (this.redisConnections.size === 0) {
      const gauge: Gauge<'client'> = new Gauge({
        name: 'gatehouse_redis_connected',
        help: 'Whether a Redis connection of this app is up (1) or not (0), by what it is for',
        labelNames: ['client'],
        registers: [this.registry],
        collect: () => {
          for (const [role, checks] of this.redisConnections) {
            gauge.set({ client: role }, checks.every((check) => check()) ? 1 : 0);
          }
        },
      });
    }
    const checks = this.redisConnections.get(client) ?? [];
    checks.push(connected);
    this.redisConnections.set(client, checks);
  }

  recordUsageFlush(batch: UsageBatch, result: UsageFlushResult): void {
    this.usageFlushes.inc({ batch, result });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition format, as served at `/metrics`. */
  expose(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * Components that Nest builds through factories (the revocation set, the usage batches) cannot have the metrics
 * injected; they implement this method instead, and `bindMetrics` hands every such provider the app's metrics
 * before the app initializes.
 */
export const BIND_METRICS = Symbol.for('gatehouse.bindMetrics');

export interface MetricsAware {
  [BIND_METRICS](metrics: GatehouseMetrics): void;
}

export function isMetricsAware(value: unknown): value is MetricsAware {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<MetricsAware>)[BIND_METRICS] === 'function'
  );
}

/** Hands `metrics` to every metrics-aware provider of the app; returns how many there were. */
export function bindMetrics(app: INestApplicationContext, metrics: GatehouseMetrics): number {
  const bound = new Set<MetricsAware>();
  for (const moduleRef of app.get(ModulesContainer, { strict: false }).values()) {
    for (const wrapper of moduleRef.providers.values()) {
      // Request-scoped and not-yet-resolved providers have no static instance; none of ours is either.
      const instance: unknown = wrapper.isDependencyTreeStatic() ? wrapper.instance : undefined;
      if (isMetricsAware(instance) && !bound.has(instance)) {
        bound.add(instance);
        instance[BIND_METRICS](metrics);
      }
    }
  }
  return bound.size;
}

/**
 * The route label: the registered pattern (`/api/v1/api-keys/:id`), never the URL with its ids. The gateway's
 * proxied routes are registered as `<prefix>/` and `<prefix>/*`; they count under the prefix.
 */
export function routeLabel(url: string | undefined): string {
  if (!url) return UNMATCHED_ROUTE;
  let label = url.endsWith('*') ? url.slice(0, -1) : url;
  if (label.length > 1 && label.endsWith('/')) label = label.slice(0, -1);
  return label;
}

/**
 * Counts and times every request. Each route gets its own `onResponse` hook with its label computed once, when
 * the route is registered, so the hot path reads no route options and allocates only the labels; the duration
 * is Fastify's own, from the high-resolution clock it starts before the `onRequest` hooks. Call this before any
 * route is registered (Nest registers its routes when the app initializes).
 */
export function instrumentHttp(fastify: FastifyInstance, metrics: GatehouseMetrics): void {
  fastify.addHook('onRoute', (route) => {
    const label = routeLabel(route.url);
    const observe: onResponseHookHandler = (request, reply, done) => {
      metrics.observeRequest(request.method, label, reply.statusCode, reply.elapsedTime);
      done();
    };
    const existing = route.onResponse;
    route.onResponse =
      existing === undefined ? [observe] : [...(Array.isArray(existing) ? existing : [existing]), observe];
  });
  // Requests no route matched reach the not-found handler, which has no route of its own.
  fastify.addHook('onResponse', (request, reply, done) => {
    if (request.is404) {
      metrics.observeRequest(request.method, UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime);
    }
    done();
  });
}
