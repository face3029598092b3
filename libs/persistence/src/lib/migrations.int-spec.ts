import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, TEST_POSTGRES_URL, type TestDatabase } from '@gatehouse/testing';
import { createDatabaseIfMissing, revertLastMigration, runMigrations } from './data-source';

const TABLES = ['api_keys', 'findings', 'organizations'];

describe('migrations (PostgreSQL)', () => {
  let database: TestDatabase;
  let client: Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    client = new Client({ connectionString: database.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  async function tables(): Promise<string[]> {
    const result = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_name = ANY($1::text[])
        ORDER BY table_name`,
      [TABLES],
    );
    return result.rows.map((row) => row.table_name);
  }

  async function insertOrganization(): Promise<string> {
    const result = await client.query<{ id: string }>(
      `INSERT INTO organizations (name, plan) VALUES ($1, 'pro') RETURNING id`,
      [`org-${randomBytes(4).toString('hex')}`],
    );
    return result.rows[0].id;
  }

  async function insertKey(
    organizationId: string,
    clientId: string,
    keyHash: Buffer | null = randomBytes(32),
  ): Promise<string> {
    const result = await client.query<{ id: string }>(
      `INSERT INTO api_keys (organization_id, name, client_id, permissions, environment, key_hash, key_prefix,
                             key_last4, created_by)
       VALUES ($1, 'k', $2, ARRAY['read:keys'], 'live', $3, 'gth_live_', 'abcd', 'test')
       RETURNING id`,
      [organizationId, clientId, keyHash],
    );
    return result.rows[0].id;
  }

  it('starts without the schema', async () => {
    expect(await tables()).toEqual([]);
  });

  it('creates organizations, api_keys and findings on the first run', async () => {
    expect(await runMigrations({ url: database.url })).toEqual(['CreateInitialSchema1763856000000']);
    expect(await tables()).toEqual(TABLES);
  });

  it('applies nothing when run again', async () => {
    expect(await runMigrations({ url: database.url })).toEqual([]);
    expect(await tables()).toEqual(TABLES);
    const recorded = await client.query<{ name: string }>(`SELECT name FROM gatehouse_migrations`);
    expect(recorded.rows.map((row) => row.name)).toEqual(['CreateInitialSchema1763856000000']);
  });

  it('lets a client_id be reused once the earlier key is deleted', async () => {
    const organizationId = await insertOrganization();
    const first = await insertKey(organizationId, 'reused-client');

    await expect(insertKey(organizationId, 'reused-client')).rejects.toMatchObject({
      code: '23505',
      constraint: 'api_keys_org_client_id_uq',
    });

    await client.query(
      `UPDATE api_keys SET deleted_at = now(), revoked_at = now(), key_hash = NULL WHERE id = $1`,
      [first],
    );
    const second = await insertKey(organizationId, 'reused-client');
    expect(second).not.toBe(first);

    // Only one live row per (organization, client_id): the index is partial, not gone.
    await expect(insertKey(organizationId, 'reused-client')).rejects.toMatchObject({
      constraint: 'api_keys_org_client_id_uq',
    });
  });

  it('allows the same client_id in another organization', async () => {
    const [one, two] = [await insertOrganization(), await insertOrganization()];
    await insertKey(one, 'shared-client');
    await expect(insertKey(two, 'shared-client')).resolves.toEqual(expect.any(String));
  });

  it('refuses two rows with the same key_hash, even across organizations', async () => {
    const [one, two] = [await insertOrganization(), await insertOrganization()];
    const hash = randomBytes(32);
    await insertKey(one, 'hash-one', hash);
    await expect(insertKey(two, 'hash-two', hash)).rejects.toMatchObject({
      code: '23505',
      constraint: 'api_keys_key_hash_uq',
    });
  });

  it('allows any number of erased (NULL) key hashes', async () => {
    const organizationId = await insertOrganization();
    for (const clientId of ['erased-1', 'erased-2']) {
      const id = await insertKey(organizationId, clientId);
      await client.query(
        `UPDATE api_keys SET deleted_at = now(), revoked_at = now(), key_hash = NULL WHERE id = $1`,
        [id],
      );
    }
    const erased = await client.query(`SELECT 1 FROM api_keys WHERE key_hash IS NULL`);
    expect(erased.rowCount).toBeGreaterThanOrEqual(2);
  });

  it('refuses a deleted key that still has its hash or no revocation time', async () => {
    const organizationId = await insertOrganization();
    const id = await insertKey(organizationId, 'check-deleted');
    await expect(
      client.query(`UPDATE api_keys SET deleted_at = now() WHERE id = $1`, [id]),
    ).rejects.toMatchObject({ code: '23514', constraint: 'api_keys_deleted_is_revoked' });
    await expect(
      client.query(`UPDATE api_keys SET deleted_at = now(), key_hash = NULL WHERE id = $1`, [id]),
    ).rejects.toMatchObject({ code: '23514', constraint: 'api_keys_deleted_is_revoked' });
  });

  it('keeps a key that has findings, and removes both with their organization', async () => {
    const organizationId = await insertOrganization();
    const keyId = await insertKey(organizationId, 'with-findings');
    await client.query(
      `INSERT INTO findings (organization_id, api_key_id, client_id, rule_id, title, severity, location)
       VALUES ($1, $2, 'with-findings', 'r1', 't', 'high', '{"path":"a.ts"}')`,
      [organizationId, keyId],
    );

    // Keys are only ever soft-deleted; a hard delete would orphan the findings they uploaded.
    await expect(client.query(`DELETE FROM api_keys WHERE id = $1`, [keyId])).rejects.toMatchObject({
      code: '23503',
    });
    await expect(
      client.query(`UPDATE findings SET severity = 'urgent' WHERE api_key_id = $1`, [keyId]),
    ).rejects.toMatchObject({ code: '23514' });

    await client.query(`DELETE FROM organizations WHERE id = $1`, [organizationId]);
    const left = await client.query(
      `SELECT (SELECT count(*) FROM api_keys WHERE organization_id = $1)::int AS keys,
              (SELECT count(*) FROM findings WHERE organization_id = $1)::int AS findings`,
      [organizationId],
    );
    expect(left.rows[0]).toEqual({ keys: 0, findings: 0 });
  });

  it('drops every table on revert, leaving no migration recorded', async () => {
    await revertLastMigration({ url: database.url });
    expect(await tables()).toEqual([]);
    const recorded = await client.query(`SELECT name FROM gatehouse_migrations`);
    expect(recorded.rowCount).toBe(0);
  });

  it('migrates up again after a revert', async () => {
    expect(await runMigrations({ url: database.url })).toEqual(['CreateInitialSchema1763856000000']);
    expect(await tables()).toEqual(TABLES);
    const keys = await client.query(`SELECT count(*)::int AS n FROM api_keys`);
    expect(keys.rows[0]).toEqual({ n: 0 });
  });
});

describe('createDatabaseIfMissing (PostgreSQL)', () => {
  const suffix = randomBytes(6).toString('hex');
  const plainName = `gatehouse_test_${suffix}`;
  const dashedName = `gatehouse_test_${suffix}-x`;
  let admin: Client;

  function urlOf(database: string): string {
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/${database}`;
    return url.toString();
  }

  async function exists(database: string): Promise<boolean> {
    const result = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [database]);
    return result.rowCount === 1;
  }

  beforeAll(async () => {
    admin = new Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
  });

  afterAll(async () => {
    // Only the two names this block made up; both are dropped whether or not a test created them.
    for (const name of [plainName, dashedName]) {
      await admin?.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
    await admin?.end();
  });

  it('creates the database named in the URL when it is missing, and only then', async () => {
    expect(await exists(plainName)).toBe(false);

    expect(await createDatabaseIfMissing(urlOf(plainName))).toBe(true);
    expect(await exists(plainName)).toBe(true);

    expect(await createDatabaseIfMissing(urlOf(plainName))).toBe(false);
  });

  it('leaves names that are not plain identifiers alone', async () => {
    expect(await createDatabaseIfMissing(urlOf(dashedName))).toBe(false);
    expect(await exists(dashedName)).toBe(false);
  });
});
