import { Test } from '@nestjs/testing';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { HealthModule } from '@gatehouse/http';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { MIGRATIONS, MIGRATIONS_TABLE, revertLastMigration, runMigrations } from './data-source';
import { PersistenceModule } from './persistence.module';
import { SchemaTooOldError } from './schema-check';

const NAMES = MIGRATIONS.map((migration) => migration.name);

async function start(url: string) {
  const moduleRef = await Test.createTestingModule({
    imports: [HealthModule.forRoot(), PersistenceModule.forRoot({ url, poolSize: 1 })],
  }).compile();
  try {
    return await moduleRef.init();
  } catch (error) {
    await moduleRef.close();
    throw error;
  }
}

describe('schema check at start (PostgreSQL)', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await database?.drop();
  });

  it('refuses an unmigrated database, naming every migration and the command to run', async () => {
    const failure = await start(database.url).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SchemaTooOldError);
    expect((failure as SchemaTooOldError).missing).toEqual(NAMES);
    expect((failure as Error).message).toContain('gatehouse-cli migrate');
    expect((failure as Error).message).toContain('npm run db:migrate');
  });

  it('refuses a partially migrated database, naming only what is missing', async () => {
    await runMigrations({ url: database.url });
    await revertLastMigration({ url: database.url });
    const failure = await start(database.url).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect((failure as SchemaTooOldError).missing).toEqual([NAMES[NAMES.length - 1]]);
    expect((failure as Error).message).toContain(`1 migration(s) not applied (${NAMES[NAMES.length - 1]})`);
  });

  it('starts on a migrated database without a warning', async () => {
    await runMigrations({ url: database.url });
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const app = await start(database.url);
    await app.close();
    expect(warn.mock.calls.flat().join(' ')).not.toContain('does not know');
  });

  it('starts on a newer schema (a rollback) and warns about the migrations it does not know', async () => {
    await runMigrations({ url: database.url });
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (timestamp, name) VALUES ($1, $2)`, [
        9999999999999,
        'FromANewerRelease9999999999999',
      ]);
    } finally {
      await client.end();
    }
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const app = await start(database.url);
    await app.close();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('FromANewerRelease9999999999999'));
  });
});
