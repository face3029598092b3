import { Module, type DynamicModule } from '@nestjs/common';
import { AuthModule } from '@gatehouse/auth';
import { FindingsModule } from '@gatehouse/findings';
import { createLoggerModule, HealthModule } from '@gatehouse/http';
import { PersistenceModule } from '@gatehouse/persistence';
import { RevocationModule } from '@gatehouse/revocation';
import { FindingsController } from './findings.controller';
import type { FindingsServiceConfig } from './findings-service.config';
import { ScansController } from './scans.controller';

@Module({})
export class FindingsServiceModule {
  static register(config: FindingsServiceConfig): DynamicModule {
    return {
      module: FindingsServiceModule,
      imports: [
        createLoggerModule('findings-service', config),
        HealthModule.forRoot(),
        PersistenceModule.forRoot({
          driver: config.DATABASE_DRIVER,
          url: config.DATABASE_URL,
          poolSize: config.DATABASE_POOL_SIZE,
          applicationName: 'gatehouse-findings-service',
        }),
        RevocationModule.forRoot({
          redis: config.redisConnection,
          transport: config.KEY_EVENTS_BUS,
          channel: config.keyEventsChannel,
          reconcileIntervalMs: config.REVOCATION_RECONCILE_MS,
          clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_SECONDS,
        }),
        AuthModule.forRoot({
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          jwksUrl: config.JWKS_URL,
          clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_SECONDS,
          // Dashboard users read findings with their identity provider's token, as they manage keys.
          oidc: config.oidc,
        }),
        FindingsModule.forRoot(config.findings),
      ],
      controllers: [FindingsController, ScansController],
    };
  }
}
