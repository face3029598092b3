import { randomBytes, randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Clock } from '@gatehouse/contracts';
import { createDataSourceOptions, runMigrations } from '@gatehouse/persistence';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { UsageLog, type UsageAttempt } from './usage-log';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const DAY_MS = 86_400_000;
const RETENTION_DAYS = 30;

interface UsageRow {
  api_key_id: string;
  organization_id: string;
  occurred_at: Date;
  outcome: string;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

describe('UsageLog (PostgreSQL)', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let now: Date;
  let log: UsageLog;
  let organizationId: string;
  let warn: jest.SpyInstance;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: (url) => runMigrations({ url }) });
    dataSource = await new DataSource(
      createDataSourceOptions({ url: database.url, poolSize: 2 }),
    ).initialize();
    const [organization] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO organizations (name, plan) VALUES ('usage-org', 'pro') RETURNING id`,
    );
    organizationId = organization.id;
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  beforeEach(() => {
    now = NOW;
    const clock: Clock = { now: () => new Date(now.getTime()) };
    log = new UsageLog(dataSource, clock, {
      flushIntervalMs: 60_000,
      retentionDays: RETENTION_DAYS,
      maxPending: 100,
    });
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await log.stop();
    warn.mockRestore();
  });

  async function insertKey(id: string = randomUUID()): Promise<string> {
    await dataSource.query(
      `INSERT INTO api_keys (id, organization_id, name, client_id, permissions, environment, key_hash, key_prefix,
                             key_last4, created_by)
       VALUES ($1, $2, 'k', $3, ARRAY['read:findings'], 'live', $4, 'gth_live_', 'abcd', 'test')`,
      [id, organizationId, `client-${randomBytes(4).toString('hex')}`, randomBytes(32)],
    );
    return id;
  }

  function attempt(apiKeyId: string, overrides: Partial<UsageAttempt> = {}): UsageAttempt {
    return {
      apiKeyId,
      organizationId,
      at: NOW,
      outcome: 'success',
      ip: '203.0.113.7',
      userAgent: 'scanner/1.0',
      requestId: 'req-1',
      ...overrides,
    };
  }

  async function rows(apiKeyId: string): Promise<UsageRow[]> {
    return dataSource.query<UsageRow[]>(
      `SELECT api_key_id, organization_id, occurred_at, outcome, ip, user_agent, request_id
         FROM api_key_usage WHERE api_key_id = $1 ORDER BY id`,
      [apiKeyId],
    );
  }

  it('stores a batch as rows of api_key_usage, column for column and in order', async () => {
    const [first, second] = [await insertKey(), await insertKey()];
    log.append(attempt(first));
    log.append(
      attempt(second, {
        at: new Date(NOW.getTime() + 1),
        outcome: 'client_id_mismatch',
        ip: '2001:db8::1',
        userAgent: null,
        requestId: null,
      }),
    );
    log.append(
      attempt(first, { at: new Date(NOW.getTime() + 2), outcome: 'key_expired', requestId: 'req-3' }),
    );

    await log.flush();

    expect(log.pendingCount).toBe(0);
    expect(await rows(first)).toEqual([
      {
        api_key_id: first,
        organization_id: organizationId,
        occurred_at: NOW,
        outcome: 'success',
        ip: '203.0.113.7',
        user_agent: 'scanner/1.0',
        request_id: 'req-1',
      },
      {
        api_key_id: first,
        organization_id: organizationId,
        occurred_at: new Date(NOW.getTime() + 2),
        outcome: 'key_expired',
        ip: '203.0.113.7',
        user_agent: 'scanner/1.0',
        request_id: 'req-3',
      },
    ]);
    expect(await rows(second)).toEqual([
      {
        api_key_id: second,
        organization_id: organizationId,
        occurred_at: new Date(NOW.getTime() + 1),
        outcome: 'client_id_mismatch',
        ip: '2001:db8::1',
        user_agent: null,
        request_id: null,
      },
    ]);
  });

  it('fits oversized values into their columns instead of failing the batch', async () => {
    const key = await insertKey();
    log.append(
      attempt(key, { ip: 'i'.repeat(100), userAgent: 'u'.repeat(2_000), requestId: 'r'.repeat(300) }),
    );

    await log.flush();

    const [row] = await rows(key);
    expect(row).toMatchObject({
      ip: 'i'.repeat(64),
      user_agent: 'u'.repeat(512),
      request_id: 'r'.repeat(128),
    });
  });

  it('stores the valid rows of a batch the database refuses and drops only the refused ones', async () => {
    const unknownKey = randomUUID(); // not in api_keys: the foreign key refuses this row
    const known = await insertKey();
    log.append(attempt(unknownKey));
    log.append(attempt(known, { requestId: 'kept' }));

    await log.flush();

    expect(log.pendingCount).toBe(0);
    expect(await rows(unknownKey)).toEqual([]);
    expect((await rows(known)).map((row) => row.request_id)).toEqual(['kept']);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('refused 1 of 2'));
  });

  it('drops a row PostgreSQL cannot store (NUL in text) instead of retrying the batch forever', async () => {
    const key = await insertKey();
    log.append(attempt(key, { requestId: 'before' }));
    log.append(attempt(key, { requestId: 'poisoned', userAgent: 'scanner\u0000/1.0' }));
    log.append(attempt(key, { requestId: 'after' }));

    await log.flush();

    expect(log.pendingCount).toBe(0);
    expect((await rows(key)).map((row) => row.request_id)).toEqual(['before', 'after']);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('refused 1 of 3 attempts (SQLSTATE 22021)'));

    log.append(attempt(key, { requestId: 'next' }));
    await log.flush();
    expect((await rows(key)).map((row) => row.request_id)).toEqual(['before', 'after', 'next']);
  });

  it('prunes rows older than the retention, counted from the injected clock', async () => {
    const key = await insertKey();
    const cutoff = new Date(NOW.getTime() - RETENTION_DAYS * DAY_MS);
    for (const occurredAt of [
      new Date(cutoff.getTime() - DAY_MS),
      new Date(cutoff.getTime() - 1),
      cutoff,
      new Date(NOW.getTime() - DAY_MS),
    ]) {
      log.append(attempt(key, { at: occurredAt, requestId: occurredAt.toISOString() }));
    }
    await log.flush();

    await log.prune();

    expect((await rows(key)).map((row) => row.occurred_at)).toEqual([
      cutoff,
      new Date(NOW.getTime() - DAY_MS),
    ]);

    now = new Date(NOW.getTime() + 2 * DAY_MS);
    await log.prune();
    expect((await rows(key)).map((row) => row.occurred_at)).toEqual([new Date(NOW.getTime() - DAY_MS)]);
  });

  it('stores what is pending when stopped', async () => {
    const key = await insertKey();
    log.start();
    log.append(attempt(key));

    await log.stop();

    expect(await rows(key)).toHaveLength(1);
  });
});
