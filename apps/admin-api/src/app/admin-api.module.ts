import { Module, type DynamicModule } from '@nestjs/common';
import { ApiKeysModule } from '@gatehouse/api-keys';
import { AuthModule } from '@gatehouse/auth';
import { createLoggerModule, HealthModule } from '@gatehouse/http';
import { PersistenceModule } from '@gatehouse/persistence';
import { RevocationModule } from '@gatehouse/revocation';
import { WebhooksModule } from '@gatehouse/webhooks';
import { ApiKeysController } from './api-keys.controller';
import { AuditEventsController } from './audit-events.controller';
import { LeakedKeysController } from './leaked-keys.controller';
import { MeController } from './me.controller';
import { WebhooksController } from './webhooks.controller';
import type { AdminApiConfig } from './admin-api.config';

@Module({})
export class AdminApiModule {
  static register(config: AdminApiConfig): DynamicModule {
    return {
      module: AdminApiModule,
      imports: [
        createLoggerModule('admin-api', config),
        HealthModule.forRoot(),
        PersistenceModule.forRoot({
          driver: config.DATABASE_DRIVER,
          url: config.DATABASE_URL,
          poolSize: config.DATABASE_POOL_SIZE,
          applicationName: 'gatehouse-admin-api',
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
          // Dashboard users' tokens from the organization's identity provider, when OIDC_ISSUER is set.
          oidc: config.oidc,
        }),
        ApiKeysModule.forRoot(
          { maxLifetimeDays: config.KEY_MAX_LIFETIME_DAYS },
          // Read here, at start: a bad document stops admin-api before it listens.
          config.leakedKeyReporterKeys(),
        ),
        WebhooksModule.forRoot(config.webhooks),
      ],
      controllers: [
        ApiKeysController,
        AuditEventsController,
        LeakedKeysController,
        MeController,
        WebhooksController,
      ],
    };
  }
}
