import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Clock, RateLimitChangedEvent, KeyEvent } from '@gatehouse/contracts';
import { ApiKeyEntity, createDataSourceOptions, runMigrations } from '@gatehouse/persistence';
import {
  createTestDatabase,
  TEST_REDIS_URL,
  uniqueChannel,
  waitForSubscribers,
  type TestDatabase,
} from '@gatehouse/testing';
import { RedisKeyEventBus } from './redis-key-event-bus';
import { createPostgresRevocationSource } from './revocation.module';
import { RevocationRegistry } from './revocation-registry';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const RETENTION_MS = 60 * 60_000;
const POLL_TIMEOUT_MS = 5_000;

const fixedClock: Clock = { now: () => new Date(NOW.getTime()) };

function ago(ms: number): Date {
  return new Date(NOW.getTime() - ms);
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${POLL_TIMEOUT_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('RevocationRegistry (PostgreSQL source, Redis bus)', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let organizationId: string;
  const registries: RevocationRegistry[] = [];
  let warn: jest.SpyInstance;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: (url) => runMigrations({ url }) });
    dataSource = await new DataSource(
      createDataSourceOptions({ url: database.url, poolSize: 2 }),
    ).initialize();
    const [organization] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO organizations (name, plan) VALUES ('registry-org', 'pro') RETURNING id`,
    );
    organizationId = organization.id;
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await Promise.all(registries.splice(0).map((registry) => registry.stop()));
    warn.mockRestore();
  });

  async function insertKey(revokedAt: Date | null = null): Promise<string> {
    const id = randomUUID();
    await dataSource.getRepository(ApiKeyEntity).insert({
      id,
      organizationId,
      name: 'k',
      clientId: `client-${randomBytes(4).toString('hex')}`,
      permissions: ['read:findings'],
      environment: 'live',
      keyHash: randomBytes(32),
      keyPrefix: 'gth_live_',
      keyLast4: 'abcd',
      createdBy: 'test',
      createdAt: ago(2 * RETENTION_MS),
      expiresAt: null,
      revokedAt,
      deletedAt: null,
      lastUsedAt: null,
      lastUsedIp: null,
    });
    return id;
  }

  /** A rotation written straight to the table: version `currentVersion`, older secrets retiring at `retiresAt`. */
  async function rotateInDatabase(id: string, currentVersion: number, retiresAt: Date): Promise<void> {
    await dataSource.query(
      `UPDATE api_keys SET key_version = $2, previous_key_hash = $3, previous_key_last4 = 'prev',
                           previous_retires_at = $4, rotated_at = $5
        WHERE id = $1`,
      [id, currentVersion, randomBytes(32), retiresAt, ago(60_000)],
    );
  }

  /** A revocation written straight to the table, as another node (or an operator) would: nothing is broadcast. */
  async function revokeInDatabase(id: string, revokedAt: Date): Promise<void> {
    await dataSource.query(`UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, [id, revokedAt]);
  }

  async function startRegistry(
    channel: string,
  ): Promise<{ registry: RevocationRegistry; bus: RedisKeyEventBus }> {
    const bus = new RedisKeyEventBus({ redis: TEST_REDIS_URL, channel });
    const registry = new RevocationRegistry(
      createPostgresRevocationSource(dataSource.getRepository(ApiKeyEntity)),
      bus,
      fixedClock,
      { reconcileIntervalMs: 60_000, retentionMs: RETENTION_MS },
    );
    registries.push(registry);
    await registry.start();
    return { registry, bus };
  }

  it('loads revocations within the retention window from PostgreSQL at start', async () => {
    const recent = await insertKey(ago(5 * 60_000));
    const old = await insertKey(ago(RETENTION_MS + 60_000));
    const active = await insertKey();

    const { registry } = await startRegistry(uniqueChannel());

    expect(registry.ready).toBe(true);
    expect(registry.isRevoked(recent)).toBe(true);
    expect(registry.isRevoked(old)).toBe(false);
    expect(registry.isRevoked(active)).toBe(false);
  });

  it('picks up a key revoked directly in the database at the next reconcile', async () => {
    const { registry } = await startRegistry(uniqueChannel());
    const id = await insertKey();
    const heard: string[] = [];
    registry.onRevoked((apiKeyId) => heard.push(apiKeyId));

    await revokeInDatabase(id, ago(60_000));
    expect(registry.isRevoked(id)).toBe(false); // nothing was broadcast

    await registry.reconcile();
    expect(registry.isRevoked(id)).toBe(true);
    expect(heard).toEqual([id]);
  });

  it('does not pick up a key revoked longer ago than the retention window', async () => {
    const { registry } = await startRegistry(uniqueChannel());
    const id = await insertKey();

    await revokeInDatabase(id, ago(RETENTION_MS + 1_000));
    await registry.reconcile();

    expect(registry.isRevoked(id)).toBe(false);
  });

  it('shares revoke() with another registry on the same channel through Redis, without a reconcile', async () => {
    const channel = uniqueChannel();
    const { registry: first, bus } = await startRegistry(channel);
    const { registry: second } = await startRegistry(channel);
    await waitForSubscribers(channel, 2);
    const heard: string[] = [];
    second.onRevoked((apiKeyId) => heard.push(apiKeyId));
    const id = await insertKey();
    const publisher = bus['publisher'];
    if (publisher.status !== 'ready') await once(publisher, 'ready');

    const event: KeyEvent = {
      type: 'key_revoked',
      apiKeyId: id,
      organizationId,
      revokedAt: ago(1_000).toISOString(),
      reason: 'revoked',
    };
    await expect(first.revoke(event)).resolves.toBe(true);
    expect(first.isRevoked(id)).toBe(true);

    await waitFor(() => second.isRevoked(id), 'the revocation to reach the second registry');
    // The row was never revoked in PostgreSQL, so only the broadcast can have told the second registry.
    expect(heard).toEqual([id]);
  });

  it('keeps a broadcast revocation the database does not know yet across a reconcile', async () => {
    const channel = uniqueChannel();
    const { registry } = await startRegistry(channel);
    const id = await insertKey();

    registry.apply({
      type: 'key_revoked',
      apiKeyId: id,
      organizationId,
      revokedAt: ago(1_000).toISOString(),
      reason: 'deleted',
    });
    await registry.reconcile();

    expect(registry.isRevoked(id)).toBe(true);
  });

  it('loads retirements from PostgreSQL: grace periods still running and recent ones, not older ones', async () => {
    const running = await insertKey();
    const recent = await insertKey();
    const old = await insertKey();
    const never = await insertKey();
    await rotateInDatabase(running, 2, new Date(NOW.getTime() + 3_600_000));
    await rotateInDatabase(recent, 3, ago(5 * 60_000));
    await rotateInDatabase(old, 2, ago(RETENTION_MS + 60_000));

    const { registry } = await startRegistry(uniqueChannel());

    expect(registry.isRevoked(running, 1)).toBe(false); // its grace period ends in an hour
    expect(registry.isRevoked(running, 2)).toBe(false);
    expect(registry.isRevoked(recent, 2)).toBe(true);
    expect(registry.isRevoked(recent, 3)).toBe(false);
    // Past the retention every token of the old version has expired; nothing needs remembering.
    expect(registry.isRevoked(old, 1)).toBe(false);
    expect(registry.isRevoked(never, 1)).toBe(false);
    expect([running, recent, old, never].map((id) => registry.isRevoked(id))).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it('picks up a rotation finished directly in the database at the next reconcile', async () => {
    const id = await insertKey();
    await rotateInDatabase(id, 2, new Date(NOW.getTime() + 86_400_000));
    const { registry } = await startRegistry(uniqueChannel());
    const heard: string[] = [];
    registry.onRevoked((apiKeyId) => heard.push(apiKeyId));
    expect(registry.isRevoked(id, 1)).toBe(false);

    await dataSource.query(
      `UPDATE api_keys SET previous_key_hash = NULL, previous_key_last4 = NULL, previous_retires_at = $2
        WHERE id = $1`,
      [id, ago(1_000)],
    );
    await registry.reconcile();

    expect(registry.isRevoked(id, 1)).toBe(true);
    expect(registry.isRevoked(id, 2)).toBe(false);
    expect(heard).toEqual([id]);
  });

  it('shares a secret_retired event with another registry through Redis', async () => {
    const channel = uniqueChannel();
    const { registry: first, bus } = await startRegistry(channel);
    const { registry: second } = await startRegistry(channel);
    await waitForSubscribers(channel, 2);
    const id = await insertKey();
    const publisher = bus['publisher'];
    if (publisher.status !== 'ready') await once(publisher, 'ready');

    await expect(
      first.revoke({
        type: 'secret_retired',
        apiKeyId: id,
        organizationId,
        currentVersion: 2,
        retiredAt: ago(1_000).toISOString(),
      }),
    ).resolves.toBe(true);

    await waitFor(() => second.isRevoked(id, 1), 'the retirement to reach the second registry');
    expect(second.isRevoked(id, 2)).toBe(false);
    expect(second.isRevoked(id)).toBe(false);
  });

  it('carries a rate_limit_changed event to the listeners of another registry through Redis, revoking nothing', async () => {
    const channel = uniqueChannel();
    const { registry: first, bus } = await startRegistry(channel);
    const { registry: second } = await startRegistry(channel);
    await waitForSubscribers(channel, 2);
    const heardBySecond: RateLimitChangedEvent[] = [];
    second.onRateLimitChanged((event) => heardBySecond.push(event));
    const revokedOnSecond: string[] = [];
    second.onRevoked((apiKeyId) => revokedOnSecond.push(apiKeyId));
    const id = await insertKey();
    const publisher = bus['publisher'];
    if (publisher.status !== 'ready') await once(publisher, 'ready');
    const change: RateLimitChangedEvent = {
      type: 'rate_limit_changed',
      apiKeyId: id,
      organizationId,
      requestsPerMinute: 42,
      burst: 7,
      source: 'override',
      changedAt: NOW.toISOString(),
    };

    await expect(first.publishRateLimitChange(change)).resolves.toBe(true);

    await waitFor(() => heardBySecond.length > 0, 'the rate limit change to reach the second registry');
    expect(heardBySecond).toEqual([change]);
    expect(second.isRevoked(id)).toBe(false);
    expect(second.isRevoked(id, 1)).toBe(false);
    expect(revokedOnSecond).toEqual([]);
  });
});
