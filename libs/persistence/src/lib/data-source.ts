import { Logger } from '@nestjs/common';
import { Client, type ClientConfig } from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ApiKeyUsageEntity } from './entities/api-key-usage.entity';
import { ApiKeyEntity } from './entities/api-key.entity';
import { AuditEventEntity } from './entities/audit-event.entity';
import { OrganizationEntity } from './entities/organization.entity';
import type { EmbeddedDatabase } from './embedded-database';
import { CreateInitialSchema1763856000000 } from './migrations/1763856000000-CreateInitialSchema';
import { AddKeyLifecycle1763942400000 } from './migrations/1763942400000-AddKeyLifecycle';
import { AddKeyRateLimits1764028800000 } from './migrations/1764028800000-AddKeyRateLimits';
import { AddKeyProtections1764115200000 } from './migrations/1764115200000-AddKeyProtections';
import { AddScans1764201600000 } from './migrations/1764201600000-AddScans';
import { AddKeyDescriptionMetadata1764288000000 } from './migrations/1764288000000-AddKeyDescriptionMetadata';
import { AddWebhooks1764374400000 } from './migrations/1764374400000-AddWebhooks';
import { AddWebhookRetentionIndexes1764460800000 } from './migrations/1764460800000-AddWebhookRetentionIndexes';

/** The entities of the shared slices; feature libraries register their own with TypeOrmModule.forFeature. */
export const ENTITIES = [OrganizationEntity, ApiKeyEntity, ApiKeyUsageEntity, AuditEventEntity];

/** Listed explicitly, in order: bundles carry no migration directory to glob. */
export const MIGRATIONS = [
  CreateInitialSchema1763856000000,
  AddKeyLifecycle1763942400000,
  AddKeyRateLimits1764028800000,
  AddKeyProtections1764115200000,
  AddScans1764201600000,
  AddKeyDescriptionMetadata1764288000000,
  AddWebhooks1764374400000,
  AddWebhookRetentionIndexes1764460800000,
];

/** Where TypeORM records the migrations applied (read by the schema check at start). */
export const MIGRATIONS_TABLE = 'gatehouse_migrations';

/** A PostgreSQL server. */
export interface ServerDatabaseOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
}

/** The PostgreSQL embedded in this process (standalone mode): always one shared connection, no pool size. */
export interface EmbeddedDatabaseOptions {
  embedded: EmbeddedDatabase;
  applicationName?: string;
}

export type DatabaseOptions = ServerDatabaseOptions | EmbeddedDatabaseOptions;

export function isEmbeddedDatabaseOptions(options: DatabaseOptions): options is EmbeddedDatabaseOptions {
  return 'embedded' in options;
}

/** Schema changes only ever come from migrations, run by `npm run db:migrate` (or at start in standalone mode). */
export function createDataSourceOptions(options: DatabaseOptions): DataSourceOptions {
  const common = {
    type: 'postgres',
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    // Failed queries surface through the error filter; TypeORM's own log would print their parameters.
    logging: false,
    applicationName: options.applicationName ?? 'gatehouse',
  } as const;
  if (isEmbeddedDatabaseOptions(options)) {
    return {
      ...common,
      // TypeORM builds its pool with `new driver.Pool()`: here a lease of the process's one PGlite connection.
      driver: options.embedded.driver,
      poolSize: 1,
      // PGlite ships plpgsql only: no uuid-ossp to install. gen_random_uuid() is core PostgreSQL.
      installExtensions: false,
      uuidExtension: 'pgcrypto',
    };
  }
  return {
    ...common,
    url: options.url,
    poolSize: options.poolSize ?? 10,
    extra: { connectionTimeoutMillis: 5000, Client: ResilientClient },
  };
}

const connectionLogger = new Logger('PostgresConnection');

/**
 * node-postgres emits 'error' on a client when the server ends its session (a failover, `pg_terminate_backend`)
 * while no query is running on it; the pool listens only while the client is idle, TypeORM only while a query
 * runner holds it, and in the moments between, an unheard 'error' ended the whole process (seen with sessions
 * killed under load). Every client listens for its whole life here; the failure itself still reaches the query
 * that was running (a 503) and the pool, which drops the client.
 */
export class ResilientClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    this.on('error', (error: Error) => connectionLogger.warn(`connection lost: ${error.message}`));
  }
}

function singleConnection(options: DatabaseOptions): DatabaseOptions {
  return isEmbeddedDatabaseOptions(options) ? options : { ...options, poolSize: 1 };
}

export async function runMigrations(options: DatabaseOptions): Promise<string[]> {
  const dataSource = await new DataSource(createDataSourceOptions(singleConnection(options))).initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await dataSource.destroy();
  }
}

export async function revertLastMigration(options: DatabaseOptions): Promise<void> {
  const dataSource = await new DataSource(createDataSourceOptions(singleConnection(options))).initialize();
  try {
    await dataSource.undoLastMigration({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
}

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Creates the database named in the URL when the server has none of that name, so a first `npm start` needs
 * nothing but a running PostgreSQL. Returns true when it created one.
 */
export async function createDatabaseIfMissing(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!PLAIN_IDENTIFIER.test(name)) return false;
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (existing.rowCount) return false;
    await client.query(`CREATE DATABASE "${name}"`);
    return true;
  } finally {
    await client.end();
  }
}
