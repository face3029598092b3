import { IsOptional, Matches } from 'class-validator';
import { DataServiceConfig, Sensitive } from '@gatehouse/config';

/** The CLI reads the same database and Redis variables as the services. */
export class CliConfig extends DataServiceConfig {
  /**
   * Where `migrate` and `revert` connect, when it is not DATABASE_URL: a direct connection to PostgreSQL while the
   * apps go through a pooler in transaction mode (PgBouncer), which migrations should not (docs/OPERATIONS.md).
   */
  @IsOptional()
  @Sensitive()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_MIGRATION_URL must be a postgres:// URL' })
  DATABASE_MIGRATION_URL: string | undefined = undefined;

  /** The URL of schema changes: DATABASE_MIGRATION_URL, else DATABASE_URL. */
  get migrationUrl(): string {
    return this.DATABASE_MIGRATION_URL || this.DATABASE_URL;
  }
}
