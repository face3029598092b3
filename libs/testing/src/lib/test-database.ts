import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Server used to create and drop per-test databases; the database named here only serves as a login target. */
export const TEST_POSTGRES_URL =
  process.env['TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin<T>(run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabaseOptions {
  /** Brings the new database's schema up: pass the real migrations (`runMigrations` of @gatehouse/persistence). */
  migrate?: (url: string) => Promise<unknown>;
}

/**
 * A fresh database per test file, so files run in parallel without seeing each other's rows. The migration step
 * is passed in rather than imported, so that this helper stays below every library it helps test.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(TEST_POSTGRES_URL, name);
  if (options.migrate) await options.migrate(url);
  return {
    name,
    url,
    drop: () =>
      admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A Redis channel no other test run listens to. */
export function uniqueChannel(): string {
  return `gatehouse-test:${randomBytes(6).toString('hex')}`;
}
