import { Module, type DynamicModule } from '@nestjs/common';
import { GatewayAccessModule } from '@gatehouse/gateway';
import { createLoggerModule, HealthModule } from '@gatehouse/http';
import type { ApiGatewayConfig } from './api-gateway.config';
import { API_PREFIXES, AUTHENTICATE_PATH } from './routes';

@Module({})
export class ApiGatewayModule {
  static register(config: ApiGatewayConfig): DynamicModule {
    return {
      module: ApiGatewayModule,
      imports: [
        createLoggerModule('api-gateway', config),
        HealthModule.forRoot(),
        GatewayAccessModule.forRoot({
          redis: config.redisConnection,
          rateLimitStore: config.RATE_LIMIT_STORE,
          keyEventsTransport: config.KEY_EVENTS_BUS,
          channel: config.keyEventsChannel,
          keyPrefix: config.RATE_LIMIT_KEY_PREFIX,
          redisTimeoutMs: config.RATE_LIMIT_REDIS_TIMEOUT_MS,
          leaseDivisor: config.RATE_LIMIT_LEASE_DIVISOR,
          rateLimitsEnabled: config.RATE_LIMIT_ENABLED === 'true',
          authenticate: { perSecond: config.AUTH_RATE_LIMIT_PER_SECOND, burst: config.AUTH_RATE_LIMIT_BURST },
          failures: {
            maxFailures: config.AUTH_FAILURES_PER_IP,
            windowSeconds: config.AUTH_FAILURE_WINDOW_SECONDS,
            blockSeconds: config.AUTH_FAILURE_BLOCK_SECONDS,
          },
          user: { perMinute: config.USER_RATE_LIMIT_PER_MINUTE, burst: config.USER_RATE_LIMIT_BURST },
          jwksUrl: config.JWKS_URL,
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_SECONDS,
          authServiceUrl: config.AUTH_SERVICE_URL,
          timeoutMs: config.UPSTREAM_TIMEOUT_MS,
          authenticatePath: AUTHENTICATE_PATH,
          apiPrefixes: API_PREFIXES,
          gatewaySecret: config.GATEWAY_SECRET,
        }),
      ],
    };
  }
}
