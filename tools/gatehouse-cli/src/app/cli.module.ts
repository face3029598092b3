import { Module, type DynamicModule } from '@nestjs/common';
import { ApiKeysModule } from '@gatehouse/api-keys';
import { HealthModule } from '@gatehouse/http';
import { PersistenceModule } from '@gatehouse/persistence';
import { RevocationModule } from '@gatehouse/revocation';
import type { CliConfig } from './cli.config';

@Module({})
export class CliModule {
  static register(config: CliConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [
        HealthModule.forRoot(),
        PersistenceModule.forRoot({
          url: config.DATABASE_URL,
          poolSize: 1,
          applicationName: 'gatehouse-cli',
        }),
        RevocationModule.forRoot({
          redis: config.redisConnection,
          transport: 'redis',
          channel: config.keyEventsChannel,
          reconcileIntervalMs: config.REVOCATION_RECONCILE_MS,
          clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_SECONDS,
        }),
        ApiKeysModule.forRoot({ maxLifetimeDays: 3650 }),
      ],
    };
  }
}
