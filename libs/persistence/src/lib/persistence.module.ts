import { Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ReadinessRegistry } from '@gatehouse/http';
import {
  createDataSourceOptions,
  ENTITIES,
  isEmbeddedDatabaseOptions,
  type DatabaseOptions,
} from './data-source';
import { hostedEmbeddedDatabase } from './embedded-database';

@Injectable()
class DatabaseReadiness implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    private readonly readiness: ReadinessRegistry,
  ) {}

  onModuleInit(): void {
    this.readiness.register('postgres', async () => {
      await this.dataSource.query('SELECT 1');
    });
  }
}

/**
 * The server named by the options, except in a process that hosts the embedded database (the standalone suite):
 * there every app uses that one, so that the apps' modules are the same in both modes.
 */
async function resolveDatabase(options: DatabaseOptions): Promise<DatabaseOptions> {
  if (isEmbeddedDatabaseOptions(options)) return options;
  const hosted = hostedEmbeddedDatabase();
  return hosted ? { embedded: await hosted, applicationName: options.applicationName } : options;
}

@Module({})
export class PersistenceModule {
  static forRoot(options: DatabaseOptions): DynamicModule {
    return {
      module: PersistenceModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: async () => ({
            ...createDataSourceOptions(await resolveDatabase(options)),
            // Feature libraries' entities (e.g. libs/findings) join through their own TypeOrmModule.forFeature.
            autoLoadEntities: true,
            retryAttempts: 3,
            retryDelay: 1000,
          }),
        }),
        TypeOrmModule.forFeature(ENTITIES),
      ],
      providers: [DatabaseReadiness],
      exports: [TypeOrmModule],
    };
  }
}
