import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, TEST_POSTGRES_URL, type TestDatabase } from '@gatehouse/testing';
import { createDatabaseIfMissing, revertLastMigration, runMigrations } from './data-source';

const INITIAL_TABLES = ['api_keys', 'findings', 'organizations'];
const KEY_TABLES = ['api_key_usage', 'api_keys', 'audit_events', 'findings', 'organizations'];
const SCAN_TABLES = ['finding_history', 'idempotency_records', 'scan_payloads', 'scan_streams', 'scans'];
const WEBHOOK_TABLES = [
  'webhook_deliveries',
  'webhook_delivery_attempts',
  'webhook_endpoints',
  'webhook_events',
  'webhook_expiry_notices',
];
const TABLES = [...KEY_TABLES, ...SCAN_TABLES, ...WEBHOOK_TABLES].sort();
const MIGRATION_NAMES = [
  'CreateInitialSchema1763856000000',
  'AddKeyLifecycle1763942400000',
  'AddKeyRateLimits1764028800000',
  'AddKeyProtections1764115200000',
  'AddScans1764201600000',
  'AddKeyDescriptionMetadata1764288000000',
  'AddWebhooks1764374400000',
  'AddWebhookRetentionIndexes1764460800000',
];
const RATE_LIMIT_COLUMNS = ['rate_limit_burst', 'rate_limit_per_minute'];
const PROTECTION_COLUMNS = ['allowed_ips', 'disabled_at'];
const LIFECYCLE_COLUMNS = [
  'key_version',
  'previous_key_hash',
  'previous_key_last4',
  'previous_retires_at',
  'rotated_at',
];

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

  async function lifecycleColumns(): Promise<string[]> {
    const result = await client.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'api_keys' AND column_name = ANY($1::text[])
        ORDER BY column_name`,
      [LIFECYCLE_COLUMNS],
    );
    return result.rows.map((row) => row.column_name);
  }

  async function rateLimitColumns(): Promise<
    { column_name: string; data_type: string; is_nullable: string }[]
  > {
    const result = await client.query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'api_keys' AND column_name = ANY($1::text[])
        ORDER BY column_name`,
      [RATE_LIMIT_COLUMNS],
    );
    return result.rows;
  }

  async function protectionColumns(): Promise<
    { column_name: string; data_type: string; is_nullable: string; column_default: string | null }[]
  > {
    const result = await client.query<{
      column_name: string;
      data_type: string;
      is_nullable: string;
      column_default: string | null;
    }>(
      `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'api_keys' AND column_name = ANY($1::text[])
        ORDER BY column_name`,
      [PROTECTION_COLUMNS],
    );
    return result.rows;
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

  it('creates organizations, api_keys and findings, the key lifecycle tables and the rate limit columns, on the first run', async () => {
    expect(await runMigrations({ url: database.url })).toEqual(MIGRATION_NAMES);
    expect(await tables()).toEqual(TABLES);
    expect(await lifecycleColumns()).toEqual([...LIFECYCLE_COLUMNS].sort());
    expect(await rateLimitColumns()).toEqual([
      { column_name: 'rate_limit_burst', data_type: 'integer', is_nullable: 'YES' },
      { column_name: 'rate_limit_per_minute', data_type: 'integer', is_nullable: 'YES' },
    ]);
    expect(await protectionColumns()).toEqual([
      { column_name: 'allowed_ips', data_type: 'ARRAY', is_nullable: 'NO', column_default: "'{}'::text[]" },
      {
        column_name: 'disabled_at',
        data_type: 'timestamp with time zone',
        is_nullable: 'YES',
        column_default: null,
      },
    ]);
  });

  it('applies nothing when run again', async () => {
    expect(await runMigrations({ url: database.url })).toEqual([]);
    expect(await tables()).toEqual(TABLES);
    const recorded = await client.query<{ name: string }>(
      `SELECT name FROM gatehouse_migrations ORDER BY id`,
    );
    expect(recorded.rows.map((row) => row.name)).toEqual(MIGRATION_NAMES);
  });

  it('starts a key at version 1 with no rotation', async () => {
    const id = await insertKey(await insertOrganization(), 'fresh-key');
    const result = await client.query(
      `SELECT key_version, previous_key_hash, previous_key_last4, previous_retires_at, rotated_at
         FROM api_keys WHERE id = $1`,
      [id],
    );
    expect(result.rows[0]).toEqual({
      key_version: 1,
      previous_key_hash: null,
      previous_key_last4: null,
      previous_retires_at: null,
      rotated_at: null,
    });
  });

  it('starts a key without a rate limit override', async () => {
    const id = await insertKey(await insertOrganization(), 'no-override');
    const result = await client.query(
      `SELECT rate_limit_per_minute, rate_limit_burst FROM api_keys WHERE id = $1`,
      [id],
    );
    expect(result.rows[0]).toEqual({ rate_limit_per_minute: null, rate_limit_burst: null });
  });

  it('takes an override with both values set, and clears it with both NULL', async () => {
    const id = await insertKey(await insertOrganization(), 'with-override');
    await client.query(`UPDATE api_keys SET rate_limit_per_minute = 1, rate_limit_burst = 0 WHERE id = $1`, [
      id,
    ]);
    await client.query(
      `UPDATE api_keys SET rate_limit_per_minute = 100000, rate_limit_burst = 10000 WHERE id = $1`,
      [id],
    );
    const set = await client.query(
      `SELECT rate_limit_per_minute, rate_limit_burst FROM api_keys WHERE id = $1`,
      [id],
    );
    expect(set.rows[0]).toEqual({ rate_limit_per_minute: 100000, rate_limit_burst: 10000 });

    await client.query(
      `UPDATE api_keys SET rate_limit_per_minute = NULL, rate_limit_burst = NULL WHERE id = $1`,
      [id],
    );
    const cleared = await client.query(
      `SELECT rate_limit_per_minute, rate_limit_burst FROM api_keys WHERE id = $1`,
      [id],
    );
    expect(cleared.rows[0]).toEqual({ rate_limit_per_minute: null, rate_limit_burst: null });
  });

  it('starts a key enabled and unrestricted, and takes up to 100 allowed CIDRs', async () => {
    const id = await insertKey(await insertOrganization(), 'protections');
    const fresh = await client.query(`SELECT disabled_at, allowed_ips FROM api_keys WHERE id = $1`, [id]);
    expect(fresh.rows[0]).toEqual({ disabled_at: null, allowed_ips: [] });

    const hundred = Array.from({ length: 100 }, (_, index) => `10.0.${index}.0/24`);
    await client.query(`UPDATE api_keys SET allowed_ips = $2, disabled_at = now() WHERE id = $1`, [
      id,
      hundred,
    ]);
    const set = await client.query<{ allowed_ips: string[] }>(
      `SELECT allowed_ips FROM api_keys WHERE id = $1`,
      [id],
    );
    expect(set.rows[0].allowed_ips).toEqual(hundred);

    await expect(
      client.query(`UPDATE api_keys SET allowed_ips = $2 WHERE id = $1`, [id, [...hundred, '10.1.0.0/24']]),
    ).rejects.toMatchObject({ code: '23514', constraint: 'api_keys_allowed_ips_max' });
    await expect(
      client.query(`UPDATE api_keys SET allowed_ips = NULL WHERE id = $1`, [id]),
    ).rejects.toMatchObject({ code: '23502' });
  });

  it.each([
    ['a rate without a burst', 60, null],
    ['a burst without a rate', null, 10],
    ['a rate of 0', 0, 10],
    ['a negative burst', 60, -1],
  ])('refuses an override with %s', async (_case, perMinute, burst) => {
    const id = await insertKey(await insertOrganization(), `bad-override-${randomBytes(3).toString('hex')}`);
    await expect(
      client.query(`UPDATE api_keys SET rate_limit_per_minute = $2, rate_limit_burst = $3 WHERE id = $1`, [
        id,
        perMinute,
        burst,
      ]),
    ).rejects.toMatchObject({ code: '23514', constraint: 'api_keys_rate_limit_override' });
  });

  it('refuses two rows with the same previous_key_hash, and allows any number of NULL ones', async () => {
    const organizationId = await insertOrganization();
    const [one, two, three] = [
      await insertKey(organizationId, 'prev-one'),
      await insertKey(organizationId, 'prev-two'),
      await insertKey(organizationId, 'prev-three'),
    ];
    const hash = randomBytes(32);
    await client.query(`UPDATE api_keys SET previous_key_hash = $2 WHERE id = $1`, [one, hash]);
    await expect(
      client.query(`UPDATE api_keys SET previous_key_hash = $2 WHERE id = $1`, [two, hash]),
    ).rejects.toMatchObject({ code: '23505', constraint: 'api_keys_previous_key_hash_uq' });
    await expect(
      client.query(`UPDATE api_keys SET previous_key_hash = NULL WHERE id = ANY($1::uuid[])`, [[two, three]]),
    ).resolves.toMatchObject({ rowCount: 2 });
  });

  it('keeps usage and audit rows per organization and removes them with it', async () => {
    const organizationId = await insertOrganization();
    const keyId = await insertKey(organizationId, 'with-usage');
    await client.query(
      `INSERT INTO api_key_usage (organization_id, api_key_id, occurred_at, outcome, ip)
       VALUES ($1, $2, now(), 'success', '203.0.113.7')`,
      [organizationId, keyId],
    );
    await client.query(
      `INSERT INTO audit_events (organization_id, occurred_at, actor_type, actor, action, target_type, target_id)
       VALUES ($1, now(), 'system', 'system:test', 'api_key.created', 'api_key', $2)`,
      [organizationId, keyId],
    );
    // The usage log only takes rows for keys that exist.
    await expect(
      client.query(
        `INSERT INTO api_key_usage (organization_id, api_key_id, occurred_at, outcome)
         VALUES ($1, gen_random_uuid(), now(), 'success')`,
        [organizationId],
      ),
    ).rejects.toMatchObject({ code: '23503' });
    await expect(
      client.query(
        `INSERT INTO audit_events (organization_id, occurred_at, actor_type, actor, action, target_type)
         VALUES ($1, now(), 'robot', 'x', 'api_key.created', 'api_key')`,
        [organizationId],
      ),
    ).rejects.toMatchObject({ code: '23514' });

    await client.query(`DELETE FROM organizations WHERE id = $1`, [organizationId]);
    const left = await client.query(
      `SELECT (SELECT count(*) FROM api_key_usage WHERE organization_id = $1)::int AS usage,
              (SELECT count(*) FROM audit_events WHERE organization_id = $1)::int AS audit`,
      [organizationId],
    );
    expect(left.rows[0]).toEqual({ usage: 0, audit: 0 });
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
      `INSERT INTO findings (organization_id, api_key_id, client_id, rule_id, title, severity, location, identity,
                             last_seen_at)
       VALUES ($1, $2, 'with-findings', 'r1', 't', 'high', '{"path":"a.ts"}', repeat('a', 64), now())`,
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

  it('starts a key without description and with empty metadata, and takes only an object as metadata', async () => {
    const id = await insertKey(await insertOrganization(), 'described');
    const fresh = await client.query(`SELECT description, metadata FROM api_keys WHERE id = $1`, [id]);
    expect(fresh.rows).toEqual([{ description: null, metadata: {} }]);
    await client.query(`UPDATE api_keys SET description = $2, metadata = $3 WHERE id = $1`, [
      id,
      'd'.repeat(500),
      { team: 'ci' },
    ]);
    await expect(
      client.query(`UPDATE api_keys SET metadata = '["not", "an", "object"]' WHERE id = $1`, [id]),
    ).rejects.toThrow(/api_keys_metadata_object/);
    await expect(
      client.query(`UPDATE api_keys SET description = $2 WHERE id = $1`, [id, 'd'.repeat(501)]),
    ).rejects.toThrow(/too long/);
  });

  it('reverts the webhook retention indexes first, keeping the webhook tables', async () => {
    const indexes = () =>
      client.query<{ indexname: string }>(
        `SELECT indexname FROM pg_indexes
          WHERE indexname IN ('webhook_deliveries_completed_idx', 'webhook_events_created_idx') ORDER BY 1`,
      );
    expect((await indexes()).rows.map((row) => row.indexname)).toEqual([
      'webhook_deliveries_completed_idx',
      'webhook_events_created_idx',
    ]);

    await revertLastMigration({ url: database.url });

    expect((await indexes()).rows).toEqual([]);
    expect(await tables()).toEqual(TABLES);
    const recorded = await client.query<{ name: string }>(
      `SELECT name FROM gatehouse_migrations ORDER BY id`,
    );
    expect(recorded.rows.map((row) => row.name)).toEqual(MIGRATION_NAMES.slice(0, 7));
  });

  it('reverts the webhooks next: drops their tables, keeping every key', async () => {
    await revertLastMigration({ url: database.url });

    expect(await tables()).toEqual([...KEY_TABLES, ...SCAN_TABLES].sort());
    const recorded = await client.query<{ name: string }>(
      `SELECT name FROM gatehouse_migrations ORDER BY id`,
    );
    expect(recorded.rows.map((row) => row.name)).toEqual(MIGRATION_NAMES.slice(0, 6));
  });

  it('reverts the key description and metadata next, dropping both columns, their constraint and indexes', async () => {
    const before = await client.query(`SELECT count(*)::int AS n FROM api_keys`);

    await revertLastMigration({ url: database.url });

    const columns = await client.query(
      `SELECT column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'api_keys' AND column_name IN ('description', 'metadata')`,
    );
    expect(columns.rowCount).toBe(0);
    const leftovers = await client.query(
      `SELECT 1 FROM pg_constraint WHERE conname = 'api_keys_metadata_object'
       UNION ALL SELECT 1 FROM pg_indexes WHERE indexname IN ('api_keys_org_name_idx', 'api_keys_org_last_used_idx')`,
    );
    expect(leftovers.rowCount).toBe(0);
    const recorded = await client.query<{ name: string }>(
      `SELECT name FROM gatehouse_migrations ORDER BY id`,
    );
    expect(recorded.rows.map((row) => row.name)).toEqual(MIGRATION_NAMES.slice(0, 5));
    const after = await client.query(`SELECT count(*)::int AS n FROM api_keys`);
    expect(after.rows[0]).toEqual(before.rows[0]);
  });

  it('reverts the scans next: drops their tables and gives findings their earlier shape', async () => {
    const organizationId = await insertOrganization();
    const keyId = await insertKey(organizationId, 'scan-revert');
    await client.query(
      `INSERT INTO findings (organization_id, api_key_id, client_id, rule_id, title, severity, location, identity,
                             last_seen_at, tool)
       VALUES ($1, $2, 'scan-revert', 'kept', 't', 'low', '{"path":"a.ts"}', repeat('b', 64), now(), ''),
              ($1, $2, 'scan-revert', 'no-location', 't', 'low', NULL, repeat('c', 64), now(), 'semgrep')`,
      [organizationId, keyId],
    );

    await revertLastMigration({ url: database.url });

    expect(await tables()).toEqual(KEY_TABLES);
    const kept = await client.query(
      `SELECT rule_id, tool, created_at IS NOT NULL AS dated FROM findings WHERE organization_id = $1`,
      [organizationId],
    );
    // The earlier schema had no finding without a location: those cannot go back.
    expect(kept.rows).toEqual([{ rule_id: 'kept', tool: null, dated: true }]);
    const recorded = await client.query<{ name: string }>(
      `SELECT name FROM gatehouse_migrations ORDER BY id`,
    );
    expect(recorded.rows.map((row) => row.name)).toEqual(MIGRATION_NAMES.slice(0, 4));
  });

  it('turns earlier findings into open ones seen once, each with an identity of its own', async () => {
    const organizationId = await insertOrganization();
    const keyId = await insertKey(organizationId, 'legacy');
    await client.query(
      `INSERT INTO findings (organization_id, api_key_id, client_id, rule_id, title, severity, location, tool)
       VALUES ($1, $2, 'legacy', 'r', 't', 'low', '{"path":"a.ts"}', NULL),
              ($1, $2, 'legacy', 'r', 't', 'low', '{"path":"a.ts"}', 'gitleaks')`,
      [organizationId, keyId],
    );

    expect(await runMigrations({ url: database.url })).toEqual(MIGRATION_NAMES.slice(4));

    const migrated = await client.query<Record<string, unknown>>(
      `SELECT state, occurrences, tool, repository, ref, length(identity) AS identity_length,
              last_seen_at = first_seen_at AS seen_once
         FROM findings WHERE organization_id = $1 ORDER BY tool`,
      [organizationId],
    );
    expect(migrated.rows).toEqual([
      {
        state: 'open',
        occurrences: 1,
        tool: '',
        repository: '',
        ref: '',
        identity_length: 64,
        seen_once: true,
      },
      {
        state: 'open',
        occurrences: 1,
        tool: 'gitleaks',
        repository: '',
        ref: '',
        identity_length: 64,
        seen_once: true,
      },
    ]);
    const identities = await client.query(
      `SELECT DISTINCT identity FROM findings WHERE organization_id = $1`,
      [organizationId],
    );
    expect(identities.rowCount).toBe(2);

    // The scans, key description, webhooks and webhook retention migrations came back up: all four go again.
    await revertLastMigration({ url: database.url });
    await revertLastMigration({ url: database.url });
    await revertLastMigration({ url: database.url });
    await revertLastMigration({ url: database.url });
    expect(await tables()).toEqual(KEY_TABLES);
  });

  it('reverts the key protections next, dropping both columns, their constraint and index, keeping every key', async () => {
    const disabled = await insertKey(await insertOrganization(), 'disabled-before-revert');
    await client.query(
      `UPDATE api_keys SET disabled_at = now(), allowed_ips = '{10.0.0.0/8}' WHERE id = $1`,
      [disabled],
    );
    const before = await client.query(`SELECT count(*)::int AS n FROM api_keys`);

    await revertLastMigration({ url: database.url });

    expect(await protectionColumns()).toEqual([]);
    expect((await rateLimitColumns()).map((column) => column.column_name)).toEqual(RATE_LIMIT_COLUMNS);
    const leftovers = await client.query(
      `SELECT 1 FROM pg_constraint WHERE conname = 'api_keys_allowed_ips_max'
       UNION ALL SELECT 1 FROM pg_indexes WHERE indexname = 'api_keys_disabled_idx'`,
    );
    expect(leftovers.rowCount).toBe(0);
    const recorded = await client.query<{ name: string }>(
      `SELECT name FROM gatehouse_migrations ORDER BY id`,
    );
    expect(recorded.rows.map((row) => row.name)).toEqual(MIGRATION_NAMES.slice(0, 3));
    const after = await client.query(`SELECT count(*)::int AS n FROM api_keys`);
    expect(after.rows[0]).toEqual(before.rows[0]);
  });

  it('reverts the rate limits next, dropping both columns and their constraint and keeping every key', async () => {
    const overridden = await insertKey(await insertOrganization(), 'overridden-before-revert');
    await client.query(`UPDATE api_keys SET rate_limit_per_minute = 5, rate_limit_burst = 1 WHERE id = $1`, [
      overridden,
    ]);
    const before = await client.query(`SELECT count(*)::int AS n FROM api_keys`);

    await revertLastMigration({ url: database.url });

    expect(await tables()).toEqual(KEY_TABLES);
    expect(await rateLimitColumns()).toEqual([]);
    expect(await lifecycleColumns()).toEqual([...LIFECYCLE_COLUMNS].sort());
    const constraint = await client.query(
      `SELECT 1 FROM pg_constraint WHERE conname = 'api_keys_rate_limit_override'`,
    );
    expect(constraint.rowCount).toBe(0);
    const recorded = await client.query<{ name: string }>(
      `SELECT name FROM gatehouse_migrations ORDER BY id`,
    );
    expect(recorded.rows.map((row) => row.name)).toEqual(MIGRATION_NAMES.slice(0, 2));
    const after = await client.query(`SELECT count(*)::int AS n FROM api_keys`);
    expect(after.rows[0]).toEqual(before.rows[0]);
    const kept = await client.query(`SELECT client_id FROM api_keys WHERE id = $1`, [overridden]);
    expect(kept.rows).toEqual([{ client_id: 'overridden-before-revert' }]);
  });

  it('reverts the key lifecycle next, leaving the initial schema and its keys', async () => {
    const before = await client.query(`SELECT count(*)::int AS n FROM api_keys`);

    await revertLastMigration({ url: database.url });

    expect(await tables()).toEqual(INITIAL_TABLES);
    expect(await lifecycleColumns()).toEqual([]);
    const recorded = await client.query<{ name: string }>(`SELECT name FROM gatehouse_migrations`);
    expect(recorded.rows.map((row) => row.name)).toEqual(['CreateInitialSchema1763856000000']);
    const after = await client.query(`SELECT count(*)::int AS n FROM api_keys`);
    expect(after.rows[0]).toEqual(before.rows[0]);
  });

  it('drops every table on revert, leaving no migration recorded', async () => {
    await revertLastMigration({ url: database.url });
    expect(await tables()).toEqual([]);
    const recorded = await client.query(`SELECT name FROM gatehouse_migrations`);
    expect(recorded.rowCount).toBe(0);
  });

  it('migrates up again after a revert', async () => {
    expect(await runMigrations({ url: database.url })).toEqual(MIGRATION_NAMES);
    expect(await tables()).toEqual(TABLES);
    expect((await rateLimitColumns()).map((column) => column.column_name)).toEqual(RATE_LIMIT_COLUMNS);
    expect((await protectionColumns()).map((column) => column.column_name)).toEqual(PROTECTION_COLUMNS);
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
