import { Module, type DynamicModule } from '@nestjs/common';
import { createLoggerModule, HealthModule } from '@gatehouse/http';
import { PersistenceModule } from '@gatehouse/persistence';
import { RevocationModule } from '@gatehouse/revocation';
import { TokenIssuanceModule } from '@gatehouse/token-issuance';
import { AuthController } from './auth.controller';
import { TokenExchangeController } from './token-exchange.controller';
import type { AuthServiceConfig } from './auth-service.config';

@Module({})
export class AuthServiceModule {
  static register(config: AuthServiceConfig): DynamicModule {
    const signingKey = config.signingKey();
    return {
      module: AuthServiceModule,
      imports: [
        createLoggerModule('auth-service', config),
        HealthModule.forRoot(),
        PersistenceModule.forRoot({
          driver: config.DATABASE_DRIVER,
          url: config.DATABASE_URL,
          poolSize: config.DATABASE_POOL_SIZE,
          applicationName: 'gatehouse-auth-service',
        }),
        RevocationModule.forRoot({
          redis: config.redisConnection,
          transport: config.KEY_EVENTS_BUS,
          channel: config.keyEventsChannel,
          reconcileIntervalMs: config.REVOCATION_RECONCILE_MS,
          clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_SECONDS,
        }),
        TokenIssuanceModule.forRoot({
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          signingKeyPem: signingKey?.pem,
          signingKeyId: config.JWT_SIGNING_KEY_ID,
          signingKeySource: signingKey?.source,
          nextSigningKey: config.nextSigningKey(),
          previousSigningKey: config.previousSigningKey(),
          allowDevelopmentKey: !config.isProduction,
          usageFlushIntervalMs: config.USAGE_FLUSH_INTERVAL_MS,
          usageRetentionDays: config.USAGE_RETENTION_DAYS,
        }),
      ],
      controllers: [AuthController, TokenExchangeController],
    };
  }
}
