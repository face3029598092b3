import { Module, type DynamicModule } from '@nestjs/common';
import { ApiKeysModule } from '@gatehouse/api-keys';
import { HealthModule } from '@gatehouse/http';
import { PersistenceModule, type EmbeddedDatabase } from '@gatehouse/persistence';
import { RevocationModule } from '@gatehouse/revocation';
import type { StandaloneConfig } from './standalone.config';

/** What the control channel runs requests with: the CLI's services, on the process's embedded database. */
@Module({})
export class ControlModule {
  static register(database: EmbeddedDatabase, config: StandaloneConfig): DynamicModule {
    return {
      module: ControlModule,
      imports: [
        HealthModule.forRoot(),
        PersistenceModule.forRoot({ embedded: database, applicationName: 'gatehouse-standalone' }),
        RevocationModule.forRoot({
          transport: 'in-process',
          channel: config.keyEventsChannel,
          reconcileIntervalMs: config.REVOCATION_RECONCILE_MS,
          clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_SECONDS,
        }),
        // The same options as gatehouse-cli's bootstrap.
        ApiKeysModule.forRoot({ maxLifetimeDays: 3650 }),
      ],
    };
  }
}
