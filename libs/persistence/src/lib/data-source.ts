import { DataSource, type DataSourceOptions } from 'typeorm';
import { ApiKeyEntity } from './entities/api-key.entity';
import { FindingEntity } from './entities/finding.entity';
import { OrganizationEntity } from './entities/organization.entity';
import { CreateInitialSchema1763856000000 } from './migrations/1763856000000-CreateInitialSchema';

export const ENTITIES = [OrganizationEntity, ApiKeyEntity, FindingEntity];

/** Listed explicitly, in order: bundles carry no migration directory to glob. */
export const MIGRATIONS = [CreateInitialSchema1763856000000];

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
}

/** Schema changes only ever come from migrations, run by `npm run db:migrate`. */
export function createDataSourceOptions(options: DatabaseOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url: options.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'gatehouse_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    logging: ['error'],
    poolSize: options.poolSize ?? 10,
    applicationName: options.applicationName ?? 'gatehouse',
    extra: { connectionTimeoutMillis: 5000 },
  };
}

export async function runMigrations(options: DatabaseOptions): Promise<string[]> {
  const dataSource = await new DataSource(createDataSourceOptions({ ...options, poolSize: 1 })).initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await dataSource.destroy();
  }
}

export async function revertLastMigration(options: DatabaseOptions): Promise<void> {
  const dataSource = await new DataSource(createDataSourceOptions({ ...options, poolSize: 1 })).initialize();
  try {
    await dataSource.undoLastMigration({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
}
