import { join, resolve } from 'node:path';
import { createDataSourceOptions } from './data-source';
import { embeddedLayout, resolveDataDir, type EmbeddedDatabase } from './embedded-database';

describe('embedded database layout', () => {
  it('keeps PostgreSQL, its lock and the control socket under the data directory', () => {
    expect(embeddedLayout('/srv/gatehouse-data')).toEqual({
      dataDir: '/srv/gatehouse-data',
      pgdata: '/srv/gatehouse-data/pgdata',
      lockFile: '/srv/gatehouse-data/pgdata.lock',
      controlSocket: '/srv/gatehouse-data/control.sock',
    });
  });

  it('defaults to .data/ under the root, GATEHOUSE_DATA_DIR overriding it (relative to the working directory)', () => {
    expect(resolveDataDir('/repo', {})).toBe(join('/repo', '.data'));
    expect(resolveDataDir('/repo', { GATEHOUSE_DATA_DIR: '' })).toBe(join('/repo', '.data'));
    expect(resolveDataDir('/repo', { GATEHOUSE_DATA_DIR: '/var/lib/gatehouse' })).toBe('/var/lib/gatehouse');
    expect(resolveDataDir('/repo', { GATEHOUSE_DATA_DIR: 'local-data' })).toBe(resolve('local-data'));
  });
});

describe('createDataSourceOptions on the embedded database', () => {
  const driver = { Pool: class {} };
  const embedded = { driver } as unknown as EmbeddedDatabase;

  it('borrows the shared connection through the driver, with the same entities and migrations as a server', () => {
    const server = createDataSourceOptions({ url: 'postgres://db/gatehouse' });
    const options = createDataSourceOptions({ embedded, applicationName: 'gatehouse-test' });
    expect(options).toMatchObject({
      type: 'postgres',
      driver,
      poolSize: 1,
      installExtensions: false,
      synchronize: false,
      migrationsTableName: 'gatehouse_migrations',
      applicationName: 'gatehouse-test',
    });
    expect(options).not.toHaveProperty('url');
    expect(options.entities).toBe(server.entities);
    expect(options.migrations).toBe(server.migrations);
  });
});
