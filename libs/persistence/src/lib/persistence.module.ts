import { Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Gauge } from 'prom-client';
import { BIND_METRICS, ReadinessRegistry, type GatehouseMetrics, type MetricsAware } from '@gatehouse/http';
import {
  createDataSourceOptions,
  ENTITIES,
  isEmbeddedDatabaseOptions,
  type DatabaseOptions,
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
      providers: [SchemaCheck, DatabaseReadiness, DatabasePoolMetrics],
      exports: [TypeOrmModule],
    };
  }
}
