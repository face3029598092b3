import type { RedisConnection } from '@gatehouse/config';
import {
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { PLAN_RATE_LIMITS, type KeyEvent } from '@gatehouse/contracts';
import { BIND_METRICS, type GatehouseMetrics, type MetricsAware } from '@gatehouse/http';
import {
  createRateLimitRedisClient,
  MemoryRateLimitStore,
  RateLimiter,
  RedisRateLimitStore,
  type RateLimitDecision,
} from '@gatehouse/rate-limit';
import {
  InProcessKeyEventBus,
  RedisKeyEventBus,
  type KeyEventBus,
  type KeyEventTransport,
} from '@gatehouse/revocation';
import { AccessTokenInspector } from './access-token-inspector';
import { KeyExchange } from './key-exchange';
import { RATE_LIMIT_POLICIES, type GatewayAccessOptions } from './gateway-access.hook';
import { RateLimitOverrides } from './rate-limit-overrides';

/** RATE_LIMIT_STORE: counters shared by every replica in Redis, or this process's memory alone. */
export type RateLimitStoreChoice = 'redis' | 'memory';

export interface GatewayAccessSettings {
  /** Redis for the shared limiter counters and the bus, when they use it: a `redis://` URL, or what REDIS_MODE chose. */
  redis: string | RedisConnection;
  rateLimitStore: RateLimitStoreChoice;
  /** KEY_EVENTS_BUS: how `rate_limit_changed` reaches this gateway. */
  keyEventsTransport: KeyEventTransport;
  /** Bus channel carrying `rate_limit_changed` (KEY_EVENTS_CHANNEL). */
  channel: string;
  keyPrefix: string;
  redisTimeoutMs: number;
  /** See RateLimiterOptions.leaseDivisor: 0 asks Redis on every request. */
  leaseDivisor: number;
  rateLimitsEnabled: boolean;
  authenticate: { perSecond: number; burst: number };
  failures: { maxFailures: number; windowSeconds: number; blockSeconds: number };
  user: { perMinute: number; burst: number };
  jwksUrl: string;
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  authServiceUrl: string;
  timeoutMs: number;
  authenticatePath: string;
  apiPrefixes: string[];
  /** GATEWAY_SECRET, presented to auth-service's token exchange. */
  gatewaySecret?: string;
}

/**
 * Builds and owns what the gateway's access hook needs: the limiter (Redis, with an in-memory fallback; memory
 * alone with RATE_LIMIT_STORE=memory, as in the standalone suite), the token inspector, the key exchange and the
 * per-key overrides fed by the bus.
 */
export class GatewayAccess implements OnModuleInit, OnApplicationShutdown, MetricsAware {
  private readonly logger = new Logger(GatewayAccess.name);
  private readonly limiter: RateLimiter;
  /** The shared store, for its connection state; none with RATE_LIMIT_STORE=memory. */
  private readonly sharedStore: RedisRateLimitStore | undefined;
  private readonly bus: KeyEventBus;
  private readonly overrides = new RateLimitOverrides();
  private readonly inspector: AccessTokenInspector;
  private metrics: GatehouseMetrics | undefined;
  readonly options: GatewayAccessOptions;

  constructor(settings: GatewayAccessSettings) {
    this.sharedStore =
      settings.rateLimitStore === 'memory'
        ? undefined
        : new RedisRateLimitStore(
            createRateLimitRedisClient(
              typeof settings.redis === 'string'
                ? { mode: 'standalone', url: settings.redis }
                : settings.redis,
              { commandTimeoutMs: settings.redisTimeoutMs },
            ),
          );
    this.limiter = new RateLimiter({
      store: this.sharedStore ?? new MemoryRateLimitStore(),
      keyPrefix: settings.keyPrefix,
      leaseDivisor: settings.leaseDivisor,
      onDecision: (bucket, decision) => this.count(bucket, decision),
      // Fail-open to local, never to unlimited: with Redis unreachable each replica enforces every limit on its
      // own counters, so N replicas admit at most N times the limit until Redis answers again.
      onStoreChange: (store, error) => {
        if (store === 'local') {
          this.logger.warn(
            `rate limits are enforced per instance: Redis is unreachable (${error instanceof Error ? error.message : String(error)})`,
          );
        } else {
          this.logger.log('rate limits are shared through Redis again');
        }
      },
    });
    this.bus =
      settings.keyEventsTransport === 'in-process'
        ? new InProcessKeyEventBus({ channel: settings.channel })
        : new RedisKeyEventBus({ redis: settings.redis, channel: settings.channel });
    this.inspector = new AccessTokenInspector({
      jwksUrl: settings.jwksUrl,
      issuer: settings.issuer,
      audience: settings.audience,
      clockToleranceSeconds: settings.clockToleranceSeconds,
    });
    const enterprise = PLAN_RATE_LIMITS.enterprise;
    this.options = {
      limiter: this.limiter,
      rateLimitsEnabled: settings.rateLimitsEnabled,
      authenticateRule: {
        limit: settings.authenticate.perSecond,
        burst: settings.authenticate.burst,
        windowSeconds: 1,
      },
      failureRule: settings.failures,
      userRule: { limit: settings.user.perMinute, burst: settings.user.burst, windowSeconds: 60 },
      // Tokens issued before the claim existed live at most 30 minutes; they get the highest tier rather than
      // throttling a paying customer during an upgrade.
      defaultKeyLimit: { requestsPerMinute: enterprise.requests_per_minute, burst: enterprise.burst },
      inspector: this.inspector,
      exchange: new KeyExchange({
        authServiceUrl: settings.authServiceUrl,
        timeoutMs: settings.timeoutMs,
        inspector: this.inspector,
        gatewaySecret: settings.gatewaySecret,
      }),
      overrides: this.overrides,
      authenticatePath: settings.authenticatePath,
      apiPrefixes: settings.apiPrefixes,
    };
  }

  [BIND_METRICS](metrics: GatehouseMetrics): void {
    this.metrics = metrics;
    metrics.rateLimitDecisions(RATE_LIMIT_POLICIES);
    const store = this.sharedStore;
    if (store) metrics.watchRedisConnection('rate_limit', () => store.connected);
    for (const { client, connected } of this.bus.redisConnections()) {
      metrics.watchRedisConnection(client, connected);
    }
  }

  async onModuleInit(): Promise<void> {
    if (!this.options.exchange.hasGatewaySecret) {
      this.logger.warn(
        'GATEWAY_SECRET is not set: the services will not believe the client addresses this gateway reports, ' +
          'and auth-service refuses direct key authentication',
      );
    }
    // Subscribing never waits for Redis; a missed change is bounded by the token lifetime (see RateLimitOverrides).
    await this.bus.subscribe(
      (event) => this.onEvent(event),
      () => undefined,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.bus.close(), this.limiter.close()]);
  }

  private onEvent(event: KeyEvent): void {
    switch (event.type) {
      case 'rate_limit_changed':
        this.overrides.apply(
          event.apiKeyId,
          { requestsPerMinute: event.requestsPerMinute, burst: event.burst },
          new Date(event.changedAt),
        );
        return;
      case 'allowed_ips_changed':
      case 'key_disabled':
      case 'key_revoked':
      case 'secret_retired':
        // A key sent directly is served from a cached token carrying what the key was when it was issued (its
        // allowlist above all): dropped, so that the key's next request is judged by auth-service as it is now.
        this.options.exchange.evictApiKey(event.apiKeyId);
        return;
      // Nothing cached is wrong: an enabled key's tokens work again, and a cached token's rate limit claim
      // yields to the overrides fed above.
      case 'key_enabled':
        return;
    }
  }

  private count(bucket: string, decision: RateLimitDecision): void {
    this.metrics?.rateLimitDecisions(RATE_LIMIT_POLICIES).inc({
      policy: bucket,
      decision: decision.allowed ? 'allowed' : 'rejected',
      store: decision.store,
    });
  }
}

@Module({})
export class GatewayAccessModule {
  static forRoot(settings: GatewayAccessSettings): DynamicModule {
    return {
      module: GatewayAccessModule,
      providers: [{ provide: GatewayAccess, useFactory: () => new GatewayAccess(settings) }],
      exports: [GatewayAccess],
    };
  }
}
