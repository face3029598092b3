import { Test, type TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { CLOCK, GatehouseError, type Clock, type ErrorCode } from '@gatehouse/contracts';
import { HealthModule } from '@gatehouse/http';
import { PersistenceModule, runMigrations } from '@gatehouse/persistence';
import { RevocationModule } from '@gatehouse/revocation';
import { createTestDatabase, TEST_REDIS_URL, uniqueChannel, type TestDatabase } from '@gatehouse/testing';
import { ApiKeysModule } from './api-keys.module';

/** What this library's integration specs start from (not exported by the library: tests only). */
export interface ApiKeysTestModule {
  app: TestingModule;
  database: TestDatabase;
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * The api-keys feature as admin-api wires it, on a freshly migrated database of its own and the key-event bus on
 * the test Redis (its own channel unless given), with the clock the spec drives.
 */
export async function startApiKeysTestModule(options: {
  clock: Clock;
  channel?: string;
  maxLifetimeDays?: number;
}): Promise<ApiKeysTestModule> {
  const database = await createTestDatabase({ migrate: (url) => runMigrations({ url }) });
  const app = await Test.createTestingModule({
    imports: [
      HealthModule.forRoot(),
      PersistenceModule.forRoot({ url: database.url, poolSize: 4 }),
      RevocationModule.forRoot({
        transport: 'redis',
        redis: TEST_REDIS_URL,
        channel: options.channel ?? uniqueChannel(),
        reconcileIntervalMs: 60_000,
        clockToleranceSeconds: 5,
      }),
      ApiKeysModule.forRoot({ maxLifetimeDays: options.maxLifetimeDays ?? 90 }),
    ],
  })
    .overrideProvider(CLOCK)
    .useValue(options.clock)
    .compile();
  app.useLogger(false);
  await app.init();
  return {
    app,
    database,
    dataSource: app.get(DataSource),
    async close() {
      await app.close();
      await database.drop();
    },
  };
}

/** Awaits a call that must fail with this error code, and returns the error for further checks. */
export async function expectGatehouseError(
  promise: Promise<unknown>,
  code: ErrorCode,
): Promise<GatehouseError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a ${code} error, but the call succeeded`);
    },
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(GatehouseError);
  expect(error).toMatchObject({ code });
  return error as GatehouseError;
}
