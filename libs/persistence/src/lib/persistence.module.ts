import { Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Gauge } from 'prom-client';
import { BIND_METRICS, ReadinessRegistry, type GatehouseMetrics, type MetricsAware } from '@gatehouse/http';
import type { DatabaseDriver } from '@gatehouse/config';
import {
  createDataSourceOptions,
  ENTITIES,
  type DatabaseOptions,
  type ServerDatabaseOptions,
} from './data-source';
import { hostedEmbeddedDatabase } from './embedded-database';
import { SchemaCheck } from './schema-check';

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

/** What node-postgres' pool counts (TypeORM's postgres driver keeps it as `master`). */
interface PoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

function poolOf(dataSource: DataSource): PoolCounts | undefined {
  const pool = (dataSource.driver as { master?: Partial<PoolCounts> }).master;
  return typeof pool?.totalCount === 'number' ? (pool as PoolCounts) : undefined;
}

/**
 * `gatehouse_db_pool_connections{state}`, read at every scrape: `total` connections open, `idle` ones, and
 * `waiting` queries with no connection to run on (a pool too small for the load, or PostgreSQL not answering).
 */
@Injectable()
class DatabasePoolMetrics implements MetricsAware {
  constructor(private readonly dataSource: DataSource) {}

  [BIND_METRICS](metrics: GatehouseMetrics): void {
    const gauge: Gauge<'state'> = new Gauge({
      name: 'gatehouse_db_pool_connections',
      help: 'PostgreSQL pool of this process: connections open (total), idle, and queries waiting for one',
      labelNames: ['state'],
      registers: [metrics.registry],
      collect: () => {
        const pool = poolOf(this.dataSource);
        gauge.set({ state: 'total' }, pool?.totalCount ?? 0);
        gauge.set({ state: 'idle' }, pool?.idleCount ?? 0);
        gauge.set({ state: 'waiting' }, pool?.waitingCount ?? 0);
      },
    });
  }
}

/**
 * What an app's configuration chose: DATABASE_DRIVER `postgres` (the server of `url`) or `embedded` (the PGlite
 * database the standalone suite opened in this process before loading the app).
 */
export interface ConfiguredDatabaseOptions extends ServerDatabaseOptions {
  driver: DatabaseDriver;
}

/** Thrown at module registration, before anything starts: the app then exits naming the variable. */
export class EmbeddedDatabaseNotHostedError extends Error {
  constructor() {
    super(
      'DATABASE_DRIVER=embedded, but this process hosts no embedded database: only the standalone suite (npm start ' +
        'without DATABASE_URL and REDIS_URL) does; set DATABASE_DRIVER=postgres and DATABASE_URL',
    );
    this.name = 'EmbeddedDatabaseNotHostedError';
  }
}

function isConfigured(
  options: DatabaseOptions | ConfiguredDatabaseOptions,
): options is ConfiguredDatabaseOptions {
  return 'driver' in options;
}

/** Options as given, or the embedded database a configuration asked for (a promise while it opens). */
function chosenDatabase(
  options: DatabaseOptions | ConfiguredDatabaseOptions,
): DatabaseOptions | Promise<DatabaseOptions> {
  if (!isConfigured(options)) return options;
  const { driver, ...server } = options;
  if (driver === 'postgres') return server;
  const hosted = hostedEmbeddedDatabase();
  if (!hosted) throw new EmbeddedDatabaseNotHostedError();
  return hosted.then((embedded) => ({ embedded, applicationName: options.applicationName }));
}

@Module({})
export class PersistenceModule {
  static forRoot(options: DatabaseOptions | ConfiguredDatabaseOptions): DynamicModule {
    const database = chosenDatabase(options);
    return {
      module: PersistenceModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: async () => ({
            ...createDataSourceOptions(await database),
            // Feature libraries' entities (e.g. libs/findings) join through their own TypeOrmModule.forFeature.
            autoLoadEntities: true,
            retryAttempts: 3,
            retryDelay: 1000,
          }),
        }),
        TypeOrmModule.forFeature(ENTITIES),
      ],
      providers: [SchemaCheck, DatabaseReadiness, DatabasePoolMetrics],
      exports: [TypeOrmModule],
    };
  }
}
