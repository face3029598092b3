import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import { CliConfig } from './cli.config';

describe('CliConfig', () => {
  const DATABASE_URL = 'postgres://app@pgbouncer:6432/gatehouse';

  it('migrates over DATABASE_URL unless DATABASE_MIGRATION_URL names a direct connection', () => {
    expect(loadConfig(CliConfig, { DATABASE_URL }).migrationUrl).toBe(DATABASE_URL);
    const direct = 'postgres://app@db:5432/gatehouse';
    expect(loadConfig(CliConfig, { DATABASE_URL, DATABASE_MIGRATION_URL: direct }).migrationUrl).toBe(direct);
  });

  it('refuses a DATABASE_MIGRATION_URL that is not a postgres:// URL, naming it', () => {
    expect(() => loadConfig(CliConfig, { DATABASE_URL, DATABASE_MIGRATION_URL: 'mysql://db/x' })).toThrow(
      /DATABASE_MIGRATION_URL must be a postgres:\/\/ URL/,
    );
  });
});
