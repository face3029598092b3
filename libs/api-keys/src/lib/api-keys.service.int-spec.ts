import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  GatehouseError,
  PERMISSIONS,
  type Permission,
  type RateLimitChangedEvent,
  type KeyEvent,
} from '@gatehouse/contracts';
import { hashApiKey } from '@gatehouse/crypto';
import { type Plan } from '@gatehouse/persistence';
import { RedisKeyEventBus, RevocationRegistry } from '@gatehouse/revocation';
import { TEST_REDIS_URL, uniqueChannel, ManualClock } from '@gatehouse/testing';
import type { Actor } from './actor';
import type { ApiKeyView } from './api-key.view';
import { expectGatehouseError, startApiKeysTestModule, type ApiKeysTestModule } from './api-keys.int-support';
import { ApiKeysService } from './api-keys.service';
import type { CreatedApiKeyView } from './api-key.view';
import type { CreateApiKeyDto } from './dto/create-api-key.dto';
import type { ListApiKeysDto } from './dto/list-api-keys.dto';

const START = new Date('2030-01-01T12:00:00.000Z');
const DAY_MS = 86_400_000;
const MAX_LIFETIME_DAYS = 90;

interface ApiKeyRow {
  id: string;
  organization_id: string;
  client_id: string;
  permissions: string[];
  environment: string;
  key_hash: Buffer | null;
  key_prefix: string;
  key_last4: string;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  deleted_at: Date | null;
  key_version: number;
  previous_key_hash: Buffer | null;
  previous_key_last4: string | null;
  previous_retires_at: Date | null;
  rotated_at: Date | null;
  rate_limit_per_minute: number | null;
  rate_limit_burst: number | null;
}

/** TypeORM logs every failed query (`logging: ['error']`); the expected unique violations need not fill the output. */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    return await run();
  } finally {
    log.mockRestore();
  }
}

describe('ApiKeysService (PostgreSQL, Redis)', () => {
  const clock = new ManualClock(START);
  const channel = uniqueChannel();
  let testModule: ApiKeysTestModule;
  let service: ApiKeysService;
  let dataSource: DataSource;
  let registry: RevocationRegistry;

  beforeAll(async () => {
    testModule = await startApiKeysTestModule({ clock, channel, maxLifetimeDays: MAX_LIFETIME_DAYS });
    const { app } = testModule;
    service = app.get(ApiKeysService);
    dataSource = app.get(DataSource);
    registry = app.get(RevocationRegistry);
  });

  afterAll(async () => {
    await testModule?.close();
  });

  beforeEach(() => clock.set(START));

  async function newOrganization(
    plan: Plan = 'pro',
    name = `org-${randomBytes(5).toString('hex')}`,
  ): Promise<string> {
    const [row] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO organizations (name, plan) VALUES ($1, $2) RETURNING id`,
      [name, plan],
    );
    return row.id;
  }

  /** A dashboard user holding `permissions`: judged by its permissions alone. */
  function actor(organizationId: string, permissions: readonly Permission[] = PERMISSIONS): Actor {
    return {
      organizationId,
      permissions,
      type: 'user',
      subject: 'user:test',
      ip: null,
      requestId: null,
    };
  }

  /** A token of `key`, issued when the key was at `key_version`, used from `ip`. */
  function keyActor(
    organizationId: string,
    key: Pick<ApiKeyView, 'id' | 'permissions' | 'key_version'>,
    ip: string | null = null,
  ): Actor {
    return {
      organizationId,
      permissions: key.permissions,
      type: 'api_key',
      subject: `api_key:${key.id}`,
      apiKeyId: key.id,
      keyVersion: key.key_version,
      ip,
      requestId: null,
    };
  }

  function dto(overrides: Partial<CreateApiKeyDto> = {}): CreateApiKeyDto {
    return {
      name: 'CI key',
      client_id: `client-${randomBytes(4).toString('hex')}`,
      permissions: ['read:findings', 'write:findings'],
      ...overrides,
    };
  }

  async function row(id: string): Promise<ApiKeyRow | undefined> {
    const rows = await dataSource.query<ApiKeyRow[]>(`SELECT * FROM api_keys WHERE id = $1`, [id]);
    return rows[0];
  }

  async function listAll(organizationId: string, query: ListApiKeysDto = {}): Promise<ApiKeyView[]> {
    const all: ApiKeyView[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page += 1) {
      const result = await service.list(organizationId, { ...query, cursor });
      all.push(...result.data);
      if (!result.next_cursor) return all;
      cursor = result.next_cursor;
    }
    throw new Error('pagination did not end');
  }

  describe('bootstrap', () => {
    it('creates the organization and an owner key holding every permission', async () => {
      const result = await service.bootstrap('acme', 'pro');

      expect(result).toEqual({
        organization: { id: expect.any(String), name: 'acme', plan: 'pro', created: true },
        api_key: expect.stringMatching(/^gth_live_/),
        api_key_id: expect.any(String),
        client_id: 'acme-owner',
        permissions: [...PERMISSIONS],
      });
      const [organization] = await dataSource.query<{ name: string; plan: string }[]>(
        `SELECT name, plan FROM organizations WHERE id = $1`,
        [result.organization.id],
      );
      expect(organization).toEqual({ name: 'acme', plan: 'pro' });
      expect(await row(result.api_key_id)).toMatchObject({
        organization_id: result.organization.id,
        client_id: 'acme-owner',
        permissions: [...PERMISSIONS],
        environment: 'live',
        created_by: 'system:bootstrap',
        key_hash: hashApiKey(result.api_key),
        revoked_at: null,
        deleted_at: null,
      });
    });

    it('refuses a second bootstrap of the same organization and creates no key', async () => {
      const first = await service.bootstrap('globex', 'starter');

      await expectGatehouseError(service.bootstrap('globex', 'starter'), 'conflict');

      const keys = await dataSource.query<{ id: string }[]>(
        `SELECT id FROM api_keys WHERE organization_id = $1`,
        [first.organization.id],
      );
      expect(keys).toEqual([{ id: first.api_key_id }]);
    });

    it('leaves the plan alone when it refuses', async () => {
      const first = await service.bootstrap('initech', 'starter');

      await expectGatehouseError(service.bootstrap('initech', 'enterprise'), 'conflict');

      const [organization] = await dataSource.query<{ plan: string }[]>(
        `SELECT plan FROM organizations WHERE id = $1`,
        [first.organization.id],
      );
      expect(organization.plan).toBe('starter');
    });

    it('issues a new owner key once the previous one was deleted', async () => {
      const first = await service.bootstrap('umbrella', 'pro');
      await service.delete(actor(first.organization.id), first.api_key_id);

      const second = await service.bootstrap('umbrella', 'pro');

      expect(second.organization).toEqual({ ...first.organization, created: false });
      expect(second.api_key_id).not.toBe(first.api_key_id);
      expect(second.api_key).not.toBe(first.api_key);
      await quietly(() => expectGatehouseError(service.bootstrap('umbrella', 'pro'), 'conflict'));
    });
  });

  describe('create', () => {
    let organizationId: string;

    beforeAll(async () => {
      organizationId = await newOrganization();
    });

    it('stores the SHA-256 of the secret and never the secret itself', async () => {
      const created = await service.create(actor(organizationId), dto({ name: 'Scanner' }));

      expect(created.api_key).toMatch(/^gth_live_[0-9A-Za-z]{49}$/);
      const stored = await row(created.id);
      expect(stored?.key_hash).toEqual(hashApiKey(created.api_key));
      expect(stored?.key_prefix).toBe('gth_live_');
      expect(stored?.key_last4).toBe(created.api_key.slice(-4));

      const [everything] = await dataSource.query<{ text: string }[]>(
        `SELECT k::text AS text FROM api_keys k WHERE id = $1`,
        [created.id],
      );
      const secretBody = created.api_key.slice('gth_live_'.length);
      expect(everything.text).not.toContain(created.api_key);
      expect(everything.text).not.toContain(secretBody);
      expect(everything.text).not.toContain(Buffer.from(created.api_key).toString('hex'));

      const view = await service.get(organizationId, created.id);
      expect(JSON.stringify(view)).not.toContain(secretBody);
      expect(view).not.toHaveProperty('api_key');
    });

    it('returns the view of the stored key', async () => {
      const created = await service.create(
        actor(organizationId),
        dto({ client_id: 'view-check', permissions: ['write:findings', 'read:keys'], environment: 'test' }),
      );

      expect(created).toEqual({
        id: expect.any(String),
        name: 'CI key',
        client_id: 'view-check',
        preview: `gth_test_…${created.api_key.slice(-4)}`,
        permissions: ['read:keys', 'write:findings'],
        environment: 'test',
        status: 'active',
        state: 'active',
        expiry_status: 'active',
        key_version: 1,
        rotation: null,
        created_at: START.toISOString(),
        created_by: 'user:test',
        expires_at: null,
        revoked_at: null,
        enabled: true,
        disabled_at: null,
        allowed_ips: [],
        last_used_at: null,
        last_used_ip: null,
        rate_limit: { requests_per_minute: 300, burst: 50, source: 'plan' },
        description: null,
        metadata: {},
        api_key: expect.stringMatching(/^gth_test_/),
      });
      const { api_key: _secret, ...view } = created;
      expect(await service.get(organizationId, created.id)).toEqual(view);
    });

    it('answers conflict for a client_id already used in the organization', async () => {
      await service.create(actor(organizationId), dto({ client_id: 'dup-client' }));

      const error = await quietly(() =>
        expectGatehouseError(
          service.create(actor(organizationId), dto({ client_id: 'dup-client' })),
          'conflict',
        ),
      );
      expect(error.status).toBe(409);
    });

    it('accepts the same client_id in another organization', async () => {
      const other = await newOrganization();
      await service.create(actor(organizationId), dto({ client_id: 'shared-client' }));

      const created = await service.create(actor(other), dto({ client_id: 'shared-client' }));

      expect(created.client_id).toBe('shared-client');
      expect((await row(created.id))?.organization_id).toBe(other);
    });

    it('refuses to grant a permission its creator lacks and stores nothing', async () => {
      const limited = actor(organizationId, ['read:keys', 'write:keys', 'read:findings']);

      const error = await expectGatehouseError(
        service.create(
          limited,
          dto({ client_id: 'escalation', permissions: ['read:findings', 'write:findings'] }),
        ),
        'forbidden',
      );

      expect(error.message).toContain('write:findings');
      const rows = await dataSource.query(`SELECT 1 FROM api_keys WHERE client_id = 'escalation'`);
      expect(rows).toEqual([]);
    });

    it('accepts an expiry up to the maximum lifetime and refuses one beyond it', async () => {
      const limit = new Date(START.getTime() + MAX_LIFETIME_DAYS * DAY_MS);
      const created = await service.create(actor(organizationId), dto({ expires_at: limit.toISOString() }));
      expect(created.expires_at).toBe(limit.toISOString());
      expect((await row(created.id))?.expires_at).toEqual(limit);

      const beyond = new Date(limit.getTime() + 1);
      await expectGatehouseError(
        service.create(
          actor(organizationId),
          dto({ client_id: 'too-long', expires_at: beyond.toISOString() }),
        ),
        'validation_failed',
      );
      await expectGatehouseError(
        service.create(
          actor(organizationId),
          dto({ client_id: 'in-the-past', expires_at: START.toISOString() }),
        ),
        'validation_failed',
      );
      const rows = await dataSource.query(
        `SELECT 1 FROM api_keys WHERE client_id IN ('too-long', 'in-the-past')`,
      );
      expect(rows).toEqual([]);
    });
  });

  describe('list', () => {
    it('pages through every key exactly once, newest first', async () => {
      const organizationId = await newOrganization();
      const other = await newOrganization();
      await service.create(actor(other), dto());
      // Seven keys over four instants, so pages also split keys created in the same millisecond.
      const steps = [0, 0, 1_000, 0, 0, 1_000, 1_000];
      const created: ApiKeyView[] = [];
      for (const step of steps) {
        clock.advance(step);
        created.push(await service.create(actor(organizationId), dto()));
      }
      // created_at desc, then id desc; ISO strings and lower-case uuids sort like PostgreSQL's values.
      const sortKey = (key: ApiKeyView) => `${key.created_at}|${key.id}`;
      const expected = [...created]
        .sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : sortKey(a) > sortKey(b) ? -1 : 0))
        .map((key) => key.id);

      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await service.list(organizationId, { limit: 3, cursor });
        pages.push(page.data.map((key) => key.id));
        cursor = page.next_cursor ?? undefined;
      } while (cursor && pages.length < 10);

      expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(expected);
    });

    it('ends with a null cursor when the last page is exactly full', async () => {
      const organizationId = await newOrganization();
      for (let i = 0; i < 3; i += 1) await service.create(actor(organizationId), dto());

      const page = await service.list(organizationId, { limit: 3 });

      expect(page.data).toHaveLength(3);
      expect(page.next_cursor).toBeNull();
    });

    it('refuses a damaged cursor', async () => {
      const organizationId = await newOrganization();
      await expectGatehouseError(
        service.list(organizationId, { cursor: 'not-a-cursor' }),
        'validation_failed',
      );
      const forged = Buffer.from(JSON.stringify({ createdAt: 'soon', id: randomUUID() })).toString(
        'base64url',
      );
      await expectGatehouseError(service.list(organizationId, { cursor: forged }), 'validation_failed');
    });

    it('filters by status and environment', async () => {
      const organizationId = await newOrganization();
      const owner = actor(organizationId);
      const activeLive = await service.create(owner, dto({ client_id: 'active-live' }));
      const activeTest = await service.create(owner, dto({ client_id: 'active-test', environment: 'test' }));
      const expiring = await service.create(
        owner,
        dto({ client_id: 'expiring', expires_at: new Date(START.getTime() + DAY_MS).toISOString() }),
      );
      const expiringTest = await service.create(
        owner,
        dto({
          client_id: 'expiring-test',
          environment: 'test',
          expires_at: new Date(START.getTime() + 2 * DAY_MS).toISOString(),
        }),
      );
      const revoked = await service.create(owner, dto({ client_id: 'revoked' }));
      const revokedExpiring = await service.create(
        owner,
        dto({ client_id: 'revoked-expiring', expires_at: new Date(START.getTime() + DAY_MS).toISOString() }),
      );
      const deleted = await service.create(owner, dto({ client_id: 'deleted' }));
      await service.revoke(owner, revoked.id);
      await service.revoke(owner, revokedExpiring.id);
      await service.delete(owner, deleted.id);

      clock.advance(3 * DAY_MS);

      const ids = async (query: ListApiKeysDto) =>
        (await listAll(organizationId, { ...query, limit: 2 })).map((key) => key.client_id).sort();

      expect(await ids({})).toEqual(
        ['active-live', 'active-test', 'expiring', 'expiring-test', 'revoked', 'revoked-expiring'].sort(),
      );
      expect(await ids({ status: 'active' })).toEqual(['active-live', 'active-test']);
      expect(await ids({ status: 'revoked' })).toEqual(['revoked', 'revoked-expiring']);
      expect(await ids({ status: 'expired' })).toEqual(['expiring', 'expiring-test']);
      expect(await ids({ environment: 'test' })).toEqual(['active-test', 'expiring-test']);
      expect(await ids({ environment: 'test', status: 'expired' })).toEqual(['expiring-test']);
      expect(await ids({ environment: 'live', status: 'active' })).toEqual(['active-live']);

      const statuses = Object.fromEntries(
        (await listAll(organizationId)).map((key) => [key.client_id, key.status]),
      );
      expect(statuses).toEqual({
        'active-live': 'active',
        'active-test': 'active',
        expiring: 'expired',
        'expiring-test': 'expired',
        revoked: 'revoked',
        'revoked-expiring': 'revoked',
      });
      expect([activeLive, activeTest, expiring, expiringTest].map((key) => key.status)).toEqual([
        'active',
        'active',
        'active',
        'active',
      ]);
    });

    it('treats a key expiring exactly now as expired', async () => {
      const organizationId = await newOrganization();
      const expiresAt = new Date(START.getTime() + DAY_MS);
      await service.create(
        actor(organizationId),
        dto({ client_id: 'edge', expires_at: expiresAt.toISOString() }),
      );
      clock.set(expiresAt);

      expect(
        (await service.list(organizationId, { status: 'expired' })).data.map((k) => k.client_id),
      ).toEqual(['edge']);
      expect((await service.list(organizationId, { status: 'active' })).data).toEqual([]);
    });
  });

  describe('get, revoke and delete', () => {
    let organizationId: string;
    let otherOrganizationId: string;

    beforeAll(async () => {
      organizationId = await newOrganization();
      otherOrganizationId = await newOrganization();
    });

    it("answer not_found for another organization's key and leave it untouched", async () => {
      const key = await service.create(actor(organizationId), dto());
      const intruder = actor(otherOrganizationId);

      await expectGatehouseError(service.get(otherOrganizationId, key.id), 'not_found');
      await expectGatehouseError(service.revoke(intruder, key.id), 'not_found');
      await expectGatehouseError(service.delete(intruder, key.id), 'not_found');

      expect(await row(key.id)).toMatchObject({
        revoked_at: null,
        deleted_at: null,
        key_hash: expect.any(Buffer),
      });
      expect(registry.isRevoked(key.id)).toBe(false);
      expect((await service.get(organizationId, key.id)).status).toBe('active');
    });

    it('answer not_found for an unknown or malformed id', async () => {
      await expectGatehouseError(service.get(organizationId, randomUUID()), 'not_found');
      await expectGatehouseError(service.get(organizationId, 'not-a-uuid'), 'not_found');
      await expectGatehouseError(
        service.revoke(actor(organizationId), "'; DROP TABLE api_keys; --"),
        'not_found',
      );
      await expectGatehouseError(service.delete(actor(organizationId), randomUUID()), 'not_found');
    });

    it('revoke is final, idempotent and keeps the row', async () => {
      const key = await service.create(actor(organizationId), dto());

      const revoked = await service.revoke(actor(organizationId), key.id);
      expect(revoked).toMatchObject({ id: key.id, status: 'revoked', revoked_at: START.toISOString() });

      clock.advance(60_000);
      const again = await service.revoke(actor(organizationId), key.id);
      expect(again).toMatchObject({ status: 'revoked', revoked_at: START.toISOString() });

      expect(await row(key.id)).toMatchObject({
        revoked_at: START,
        deleted_at: null,
        key_hash: expect.any(Buffer),
      });
      expect((await service.get(organizationId, key.id)).status).toBe('revoked');
    });

    it("revoking marks the key revoked in the module's registry and broadcasts it", async () => {
      const listener = new RedisKeyEventBus({ redis: TEST_REDIS_URL, channel });
      const received: KeyEvent[] = [];
      try {
        await listener.subscribe(
          (event) => received.push(event),
          () => undefined,
        );
        const key = await service.create(actor(organizationId), dto());
        expect(registry.isRevoked(key.id)).toBe(false);

        await service.revoke(actor(organizationId), key.id);

        expect(registry.isRevoked(key.id)).toBe(true);
        const deadline = Date.now() + 5_000;
        while (received.length === 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(received).toEqual([
          {
            type: 'key_revoked',
            apiKeyId: key.id,
            organizationId,
            revokedAt: START.toISOString(),
            reason: 'revoked',
          },
        ]);
      } finally {
        await listener.close();
      }
    });

    it('delete erases the hash, hides the key and frees its client_id', async () => {
      const key = await service.create(actor(organizationId), dto({ client_id: 'to-delete' }));

      await service.delete(actor(organizationId), key.id);

      expect(await row(key.id)).toMatchObject({
        key_hash: null,
        deleted_at: START,
        revoked_at: START,
        client_id: 'to-delete',
      });
      expect(registry.isRevoked(key.id)).toBe(true);
      await expectGatehouseError(service.get(organizationId, key.id), 'not_found');
      await expectGatehouseError(service.revoke(actor(organizationId), key.id), 'not_found');
      await expectGatehouseError(service.delete(actor(organizationId), key.id), 'not_found');
      expect((await listAll(organizationId)).map((view) => view.id)).not.toContain(key.id);
      expect((await listAll(organizationId, { status: 'revoked' })).map((view) => view.id)).not.toContain(
        key.id,
      );

      const reused = await service.create(actor(organizationId), dto({ client_id: 'to-delete' }));
      expect(reused.id).not.toBe(key.id);
    });

    it('delete keeps the original revocation time of a revoked key', async () => {
      const key = await service.create(actor(organizationId), dto());
      await service.revoke(actor(organizationId), key.id);
      clock.advance(DAY_MS);

      await service.delete(actor(organizationId), key.id);

      expect(await row(key.id)).toMatchObject({
        key_hash: null,
        revoked_at: START,
        deleted_at: new Date(START.getTime() + DAY_MS),
      });
    });
  });

  describe('plan gating', () => {
    it('refuses create on a starter organization with plan_not_allowed naming the plan, storing nothing', async () => {
      const organizationId = await newOrganization('starter', `starter-${randomBytes(3).toString('hex')}`);

      const error = await expectGatehouseError(
        service.create(actor(organizationId), dto({ client_id: 'gated' })),
        'plan_not_allowed',
      );

      expect(error.status).toBe(403);
      expect(error.message).toContain('starter plan');
      expect(error.message).toMatch(/pro and enterprise/);
      const rows = await dataSource.query(`SELECT 1 FROM api_keys WHERE organization_id = $1`, [
        organizationId,
      ]);
      expect(rows).toEqual([]);
      const audit = await dataSource.query(`SELECT 1 FROM audit_events WHERE organization_id = $1`, [
        organizationId,
      ]);
      expect(audit).toEqual([]);
    });

    it.each<Plan>(['pro', 'enterprise'])('lets a %s organization create keys', async (plan) => {
      const organizationId = await newOrganization(plan);
      const created = await service.create(actor(organizationId), dto());
      expect((await row(created.id))?.organization_id).toBe(organizationId);
    });

    it('bootstraps a starter organization, whose owner key still cannot create keys until an upgrade', async () => {
      const result = await service.bootstrap('tiny-co', 'starter');
      expect(result.organization).toMatchObject({ plan: 'starter', created: true });
      expect(await row(result.api_key_id)).toMatchObject({
        created_by: 'system:bootstrap',
        revoked_at: null,
      });

      const owner = actor(result.organization.id);
      await expectGatehouseError(service.create(owner, dto()), 'plan_not_allowed');

      await dataSource.query(`UPDATE organizations SET plan = 'pro' WHERE id = $1`, [result.organization.id]);
      await expect(service.create(owner, dto())).resolves.toMatchObject({ status: 'active' });
    });
  });

  describe('rotate and finishRotation', () => {
    let organizationId: string;
    let owner: Actor;

    beforeAll(async () => {
      organizationId = await newOrganization();
      owner = actor(organizationId);
    });

    it('keeps name, client_id, permissions and environment, and moves expires_at by the same lifetime', async () => {
      const created = await service.create(
        owner,
        dto({
          name: 'Nightly scan',
          client_id: 'rotate-keeps',
          permissions: ['read:findings', 'write:findings'],
          environment: 'test',
          expires_at: new Date(START.getTime() + 30 * DAY_MS).toISOString(),
        }),
      );
      clock.advance(10 * DAY_MS);
      const rotatedAt = clock.now();

      const rotated = await service.rotate(owner, created.id, { grace_period_seconds: 3_600 });

      const retiresAt = new Date(rotatedAt.getTime() + 3_600_000);
      expect(rotated).toEqual({
        ...created,
        api_key: expect.stringMatching(/^gth_test_/),
        preview: `gth_test_…${rotated.api_key.slice(-4)}`,
        status: 'rotating',
        state: 'rotating',
        expiry_status: 'active',
        key_version: 2,
        rotation: {
          previous_preview: created.preview,
          previous_retires_at: retiresAt.toISOString(),
          rotated_at: rotatedAt.toISOString(),
        },
        expires_at: new Date(rotatedAt.getTime() + 30 * DAY_MS).toISOString(),
      });
      expect(rotated.api_key).not.toBe(created.api_key);
      expect(await row(created.id)).toMatchObject({
        name: 'Nightly scan',
        client_id: 'rotate-keeps',
        permissions: ['read:findings', 'write:findings'],
        created_at: START,
        key_hash: hashApiKey(rotated.api_key),
        key_last4: rotated.api_key.slice(-4),
        key_version: 2,
        previous_key_hash: hashApiKey(created.api_key),
        previous_key_last4: created.api_key.slice(-4),
        previous_retires_at: retiresAt,
        rotated_at: rotatedAt,
        expires_at: new Date(rotatedAt.getTime() + 30 * DAY_MS),
      });
      const { api_key: _secret, ...view } = rotated;
      expect(await service.get(organizationId, created.id)).toEqual(view);
    });

    it('measures the lifetime from the last rotation, and keeps a key without expiry without one', async () => {
      const expiring = await service.create(
        owner,
        dto({ expires_at: new Date(START.getTime() + 20 * DAY_MS).toISOString() }),
      );
      const forever = await service.create(owner, dto());
      clock.advance(5 * DAY_MS);
      await service.rotate(owner, expiring.id, { grace_period_seconds: 0 });
      clock.advance(7 * DAY_MS);

      const again = await service.rotate(owner, expiring.id, { grace_period_seconds: 0 });
      const neverExpires = await service.rotate(owner, forever.id, { grace_period_seconds: 0 });

      expect(again.expires_at).toBe(new Date(clock.now().getTime() + 20 * DAY_MS).toISOString());
      expect(again.key_version).toBe(3);
      expect(neverExpires.expires_at).toBeNull();
    });

    it('gives the previous secret 24 hours when no grace period is given', async () => {
      const created = await service.create(owner, dto());
      const rotated = await service.rotate(owner, created.id, {});
      expect(rotated.rotation?.previous_retires_at).toBe(new Date(START.getTime() + DAY_MS).toISOString());
    });

    it('retires the previous secret at once with a grace period of 0', async () => {
      const created = await service.create(owner, dto());

      const rotated = await service.rotate(owner, created.id, { grace_period_seconds: 0 });

      expect(rotated).toMatchObject({ key_version: 2, status: 'active', state: 'active', rotation: null });
      expect((await row(created.id))?.previous_retires_at).toEqual(START);
      expect(registry.isRevoked(created.id, 1)).toBe(true);
      expect(registry.isRevoked(created.id, 2)).toBe(false);
      expect(registry.isRevoked(created.id)).toBe(false);
      // Nothing is left to finish, so another rotation may start right away.
      await expectGatehouseError(service.finishRotation(owner, created.id), 'conflict');
      await expect(service.rotate(owner, created.id, { grace_period_seconds: 0 })).resolves.toMatchObject({
        key_version: 3,
      });
    });

    it('answers conflict to a second rotation while one is running, and allows it once the grace period ended', async () => {
      const created = await service.create(owner, dto());
      const first = await service.rotate(owner, created.id, { grace_period_seconds: 3_600 });

      const error = await expectGatehouseError(
        service.rotate(owner, created.id, { grace_period_seconds: 60 }),
        'conflict',
      );

      expect(error.status).toBe(409);
      expect(await row(created.id)).toMatchObject({
        key_version: 2,
        key_hash: hashApiKey(first.api_key),
        previous_key_hash: hashApiKey(created.api_key),
      });
      clock.advance(3_600_000);
      await expect(service.rotate(owner, created.id, {})).resolves.toMatchObject({ key_version: 3 });
    });

    it('finishes a running rotation: the previous secret and its tokens stop now', async () => {
      const listener = new RedisKeyEventBus({ redis: TEST_REDIS_URL, channel });
      const received: KeyEvent[] = [];
      try {
        await listener.subscribe(
          (event) => received.push(event),
          () => undefined,
        );
        const created = await service.create(owner, dto());
        await service.rotate(owner, created.id, { grace_period_seconds: 86_400 });
        expect(registry.isRevoked(created.id, 1)).toBe(false);
        clock.advance(60_000);

        const finished = await service.finishRotation(owner, created.id);

        const finishedAt = new Date(START.getTime() + 60_000);
        expect(finished).toMatchObject({ key_version: 2, status: 'active', state: 'active', rotation: null });
        expect((await row(created.id))?.previous_retires_at).toEqual(finishedAt);
        expect(registry.isRevoked(created.id, 1)).toBe(true);
        expect(registry.isRevoked(created.id, 2)).toBe(false);
        const deadline = Date.now() + 5_000;
        while (received.length < 2 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(received).toEqual([
          {
            type: 'secret_retired',
            apiKeyId: created.id,
            organizationId,
            currentVersion: 2,
            retiredAt: new Date(START.getTime() + DAY_MS).toISOString(),
          },
          {
            type: 'secret_retired',
            apiKeyId: created.id,
            organizationId,
            currentVersion: 2,
            retiredAt: finishedAt.toISOString(),
          },
        ]);
        await expectGatehouseError(service.finishRotation(owner, created.id), 'conflict');
      } finally {
        await listener.close();
      }
    });

    it('answers conflict to finish without a rotation, or after the grace period has ended', async () => {
      const created = await service.create(owner, dto());
      await expectGatehouseError(service.finishRotation(owner, created.id), 'conflict');

      await service.rotate(owner, created.id, { grace_period_seconds: 60 });
      clock.advance(60_000);
      await expectGatehouseError(service.finishRotation(owner, created.id), 'conflict');
    });

    it('answers conflict to rotating or finishing a revoked key, and leaves it alone', async () => {
      const plain = await service.create(owner, dto());
      const rotating = await service.create(owner, dto());
      await service.rotate(owner, rotating.id, { grace_period_seconds: 3_600 });
      await service.revoke(owner, plain.id);
      await service.revoke(owner, rotating.id);

      await expectGatehouseError(service.rotate(owner, plain.id, {}), 'conflict');
      await expectGatehouseError(service.finishRotation(owner, rotating.id), 'conflict');

      expect(await row(plain.id)).toMatchObject({ key_version: 1, key_hash: hashApiKey(plain.api_key) });
      expect((await service.get(organizationId, rotating.id)).state).toBe('revoked');
    });

    it('answers not_found for a deleted key', async () => {
      const created = await service.create(owner, dto());
      await service.delete(owner, created.id);
      await expectGatehouseError(service.rotate(owner, created.id, {}), 'not_found');
      await expectGatehouseError(service.finishRotation(owner, created.id), 'not_found');
    });
    // Rotations of one key are judged on its row locked FOR UPDATE: the second sees the first's rotation.
    it('lets only one of several concurrent rotations of a key succeed', async () => {
      const created = await service.create(owner, dto());

      const outcomes = await Promise.allSettled(
        Array.from({ length: 5 }, () => service.rotate(owner, created.id, { grace_period_seconds: 3_600 })),
      );

      const fulfilled = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      expect(fulfilled).toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ code: 'conflict' });
      }
      const winner = fulfilled[0].value;
      expect(await row(created.id)).toMatchObject({ key_version: 2, key_hash: hashApiKey(winner.api_key) });
    });

    it('serialises a finish and concurrent rotations: at most one rotation follows the finish', async () => {
      const created = await service.create(owner, dto());
      await service.rotate(owner, created.id, { grace_period_seconds: 3_600 });

      const [finished, ...rotations] = await Promise.allSettled([
        service.finishRotation(owner, created.id),
        ...Array.from({ length: 10 }, () =>
          service.rotate(owner, created.id, { grace_period_seconds: 3_600 }),
        ),
      ]);

      expect(finished.status).toBe('fulfilled');
      const won = rotations.filter((outcome) => outcome.status === 'fulfilled');
      expect(won.length).toBeLessThanOrEqual(1);
      for (const outcome of rotations) {
        if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ code: 'conflict' });
      }
      expect(await row(created.id)).toMatchObject({ key_version: 2 + won.length });
    });
  });

  describe('listUsage', () => {
    let organizationId: string;
    let key: ApiKeyView;

    beforeAll(async () => {
      organizationId = await newOrganization();
      key = await service.create(actor(organizationId), dto());
      const other = await service.create(actor(organizationId), dto());
      // Five attempts over three instants (ties are ordered by id), and one for another key.
      const rows: [string, number, string][] = [
        [key.id, 0, 'success'],
        [key.id, 0, 'client_id_mismatch'],
        [key.id, 1_000, 'success'],
        [key.id, 2_000, 'key_expired'],
        [key.id, 2_000, 'success'],
        [other.id, 3_000, 'success'],
      ];
      for (const [apiKeyId, offset, outcome] of rows) {
        await dataSource.query(
          `INSERT INTO api_key_usage (organization_id, api_key_id, occurred_at, outcome, ip, user_agent, request_id)
           VALUES ($1, $2, $3, $4, '203.0.113.7', 'scanner/1.0', $5)`,
          [organizationId, apiKeyId, new Date(START.getTime() + offset), outcome, `req-${offset}-${outcome}`],
        );
      }
    });

    it('lists the attempts of the key only, newest first', async () => {
      const page = await service.listUsage(organizationId, key.id, {});

      expect(page.next_cursor).toBeNull();
      expect(page.data.map((usage) => [usage.occurred_at, usage.outcome])).toEqual([
        [new Date(START.getTime() + 2_000).toISOString(), 'success'],
        [new Date(START.getTime() + 2_000).toISOString(), 'key_expired'],
        [new Date(START.getTime() + 1_000).toISOString(), 'success'],
        [START.toISOString(), 'client_id_mismatch'],
        [START.toISOString(), 'success'],
      ]);
      expect(page.data[0]).toEqual({
        occurred_at: new Date(START.getTime() + 2_000).toISOString(),
        outcome: 'success',
        ip: '203.0.113.7',
        user_agent: 'scanner/1.0',
        request_id: 'req-2000-success',
      });
    });

    it('pages through every attempt exactly once, ties included', async () => {
      const all = (await service.listUsage(organizationId, key.id, {})).data;
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await service.listUsage(organizationId, key.id, { limit: 2, cursor });
        pages.push(page.data.map((usage) => usage.request_id ?? ''));
        cursor = page.next_cursor ?? undefined;
      } while (cursor && pages.length < 10);

      expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
      expect(pages.flat()).toEqual(all.map((usage) => usage.request_id));
    });

    it('filters by outcome', async () => {
      const page = await service.listUsage(organizationId, key.id, { outcome: 'success' });
      expect(page.data.map((usage) => usage.request_id)).toEqual([
        'req-2000-success',
        'req-1000-success',
        'req-0-success',
      ]);
    });

    it('refuses a damaged cursor', async () => {
      await expectGatehouseError(
        service.listUsage(organizationId, key.id, { cursor: 'garbage' }),
        'validation_failed',
      );
      const forged = Buffer.from(`${START.toISOString()}|1; DROP TABLE api_key_usage`).toString('base64url');
      await expectGatehouseError(
        service.listUsage(organizationId, key.id, { cursor: forged }),
        'validation_failed',
      );
    });
  });

  describe('across organizations', () => {
    it("answers not_found to rotate, finishRotation and listUsage on another organization's key", async () => {
      const organizationId = await newOrganization();
      const otherOrganizationId = await newOrganization();
      const key = await service.create(actor(organizationId), dto());
      const rotating = await service.create(actor(organizationId), dto());
      await service.rotate(actor(organizationId), rotating.id, { grace_period_seconds: 3_600 });
      const intruder = actor(otherOrganizationId);

      await expectGatehouseError(service.rotate(intruder, key.id, {}), 'not_found');
      await expectGatehouseError(service.finishRotation(intruder, rotating.id), 'not_found');
      await expectGatehouseError(service.listUsage(otherOrganizationId, key.id, {}), 'not_found');
      await expectGatehouseError(service.listUsage(organizationId, randomUUID(), {}), 'not_found');
      await expectGatehouseError(service.listUsage(organizationId, 'not-a-uuid', {}), 'not_found');

      expect(await row(key.id)).toMatchObject({ key_version: 1, previous_key_hash: null });
      expect((await service.get(organizationId, rotating.id)).state).toBe('rotating');
      expect(registry.isRevoked(rotating.id, 1)).toBe(false);
    });
  });

  describe('rate limit overrides', () => {
    const PRO = { requests_per_minute: 300, burst: 50, source: 'plan' };

    /** Subscribes like another node would, runs `act`, and returns the rate limit changes heard meanwhile. */
    async function broadcastsDuring(act: () => Promise<unknown>, expected: number): Promise<KeyEvent[]> {
      const listener = new RedisKeyEventBus({ redis: TEST_REDIS_URL, channel });
      const received: KeyEvent[] = [];
      try {
        await listener.subscribe(
          (event) => received.push(event),
          () => undefined,
        );
        await act();
        const deadline = Date.now() + 5_000;
        while (received.length < expected && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        // A little longer, so that an unexpected extra message would be caught too.
        await new Promise((resolve) => setTimeout(resolve, 50));
        return received;
      } finally {
        await listener.close();
      }
    }

    it('sets an override: stored, shown in the view with its source, heard by the registry and broadcast', async () => {
      const organizationId = await newOrganization('pro');
      const key = await service.create(actor(organizationId), dto());
      expect(key.rate_limit).toEqual(PRO);
      const heard: RateLimitChangedEvent[] = [];
      registry.onRateLimitChanged((event) => heard.push(event));

      let view: ApiKeyView | undefined;
      const received = await broadcastsDuring(async () => {
        view = await service.setRateLimit(actor(organizationId), key.id, {
          requests_per_minute: 120,
          burst: 20,
        });
      }, 1);

      const override = { requests_per_minute: 120, burst: 20, source: 'override' };
      expect(view).toMatchObject({ id: key.id, status: 'active', rate_limit: override });
      expect(await row(key.id)).toMatchObject({ rate_limit_per_minute: 120, rate_limit_burst: 20 });
      expect(await service.get(organizationId, key.id)).toMatchObject({ rate_limit: override });
      expect((await listAll(organizationId)).find((listed) => listed.id === key.id)?.rate_limit).toEqual(
        override,
      );
      const event: RateLimitChangedEvent = {
        type: 'rate_limit_changed',
        apiKeyId: key.id,
        organizationId,
        requestsPerMinute: 120,
        burst: 20,
        source: 'override',
        changedAt: START.toISOString(),
      };
      expect(received).toEqual([event]);
      expect(heard).toContainEqual(event);
      expect(heard.every((change) => change.apiKeyId === key.id)).toBe(true);
      // A rate limit is not a revocation.
      expect(registry.isRevoked(key.id)).toBe(false);
      expect(registry.isRevoked(key.id, 1)).toBe(false);
    });

    it("clears an override: back to the plan's limit, broadcast with source plan", async () => {
      // A starter organization creates no keys through the API; its owner key is the one it has.
      const bootstrapped = await service.bootstrap(`rl-${randomBytes(4).toString('hex')}`, 'starter');
      const key = bootstrapped.api_key_id;
      const owner = actor(bootstrapped.organization.id);
      await service.setRateLimit(owner, key, { requests_per_minute: 5, burst: 0 });
      clock.advance(60_000);

      let view: ApiKeyView | undefined;
      const received = await broadcastsDuring(async () => {
        view = await service.clearRateLimit(owner, key);
      }, 1);

      const starter = { requests_per_minute: 60, burst: 10, source: 'plan' };
      expect(view?.rate_limit).toEqual(starter);
      expect(await row(key)).toMatchObject({ rate_limit_per_minute: null, rate_limit_burst: null });
      expect(received).toEqual([
        {
          type: 'rate_limit_changed',
          apiKeyId: key,
          organizationId: owner.organizationId,
          requestsPerMinute: 60,
          burst: 10,
          source: 'plan',
          changedAt: new Date(START.getTime() + 60_000).toISOString(),
        },
      ]);
    });

    it('changes nothing and broadcasts nothing when the key already has that limit', async () => {
      const organizationId = await newOrganization();
      const key = await service.create(actor(organizationId), dto());
      await service.setRateLimit(actor(organizationId), key.id, { requests_per_minute: 10, burst: 2 });

      const received = await broadcastsDuring(async () => {
        await expect(
          service.setRateLimit(actor(organizationId), key.id, { requests_per_minute: 10, burst: 2 }),
        ).resolves.toMatchObject({ rate_limit: { requests_per_minute: 10, burst: 2, source: 'override' } });
        await service.clearRateLimit(actor(organizationId), key.id);
        await expect(service.clearRateLimit(actor(organizationId), key.id)).resolves.toMatchObject({
          rate_limit: PRO,
        });
      }, 1);

      expect(received.map((event) => event.type === 'rate_limit_changed' && event.source)).toEqual(['plan']);
    });

    it('keeps an override equal to the plan limit as an override', async () => {
      const organizationId = await newOrganization('pro');
      const key = await service.create(actor(organizationId), dto());

      const view = await service.setRateLimit(actor(organizationId), key.id, {
        requests_per_minute: 300,
        burst: 50,
      });

      expect(view.rate_limit).toEqual({ ...PRO, source: 'override' });
    });

    it("answers not_found for another organization's key, a deleted key and a malformed id, touching nothing", async () => {
      const organizationId = await newOrganization();
      const otherOrganizationId = await newOrganization();
      const key = await service.create(actor(organizationId), dto());
      await service.setRateLimit(actor(organizationId), key.id, { requests_per_minute: 10, burst: 2 });
      const deleted = await service.create(actor(organizationId), dto());
      await service.delete(actor(organizationId), deleted.id);
      const intruder = actor(otherOrganizationId);

      const received = await broadcastsDuring(async () => {
        await expectGatehouseError(
          service.setRateLimit(intruder, key.id, { requests_per_minute: 1, burst: 0 }),
          'not_found',
        );
        await expectGatehouseError(service.clearRateLimit(intruder, key.id), 'not_found');
        await expectGatehouseError(
          service.setRateLimit(actor(organizationId), deleted.id, { requests_per_minute: 1, burst: 0 }),
          'not_found',
        );
        await expectGatehouseError(service.clearRateLimit(actor(organizationId), deleted.id), 'not_found');
        await expectGatehouseError(service.clearRateLimit(actor(organizationId), 'not-a-uuid'), 'not_found');
        await expectGatehouseError(service.clearRateLimit(actor(organizationId), randomUUID()), 'not_found');
      }, 0);

      expect(received).toEqual([]);
      expect(await row(key.id)).toMatchObject({ rate_limit_per_minute: 10, rate_limit_burst: 2 });
    });

    it('answers conflict for a revoked key, touching nothing', async () => {
      const organizationId = await newOrganization();
      const key = await service.create(actor(organizationId), dto());
      await service.setRateLimit(actor(organizationId), key.id, { requests_per_minute: 10, burst: 2 });
      await service.revoke(actor(organizationId), key.id);

      const error = await expectGatehouseError(
        service.setRateLimit(actor(organizationId), key.id, { requests_per_minute: 1, burst: 0 }),
        'conflict',
      );
      expect(error.status).toBe(409);
      await expectGatehouseError(service.clearRateLimit(actor(organizationId), key.id), 'conflict');

      expect(await row(key.id)).toMatchObject({ rate_limit_per_minute: 10, rate_limit_burst: 2 });
    });

    it("shows each organization's plan limit on its keys", async () => {
      const enterprise = await newOrganization('enterprise');
      const pro = await newOrganization('pro');
      const enterpriseKey = await service.create(actor(enterprise), dto());
      const proKey = await service.create(actor(pro), dto());

      expect(enterpriseKey.rate_limit).toEqual({ requests_per_minute: 1000, burst: 100, source: 'plan' });
      expect((await service.get(pro, proKey.id)).rate_limit).toEqual(PRO);
      const listed = await listAll(enterprise);
      expect(listed.map((view) => view.rate_limit)).toEqual([
        { requests_per_minute: 1000, burst: 100, source: 'plan' },
      ]);
      // Rotating and revoking answer with the same view.
      const rotated = await service.rotate(actor(enterprise), enterpriseKey.id, { grace_period_seconds: 0 });
      expect(rotated.rate_limit).toMatchObject({ source: 'plan', requests_per_minute: 1000 });
      expect((await service.revoke(actor(pro), proKey.id)).rate_limit).toEqual(PRO);
    });

    it('records the override with the key id and organization, so one change never leaks to another key', async () => {
      const organizationId = await newOrganization();
      const [one, two] = [
        await service.create(actor(organizationId), dto()),
        await service.create(actor(organizationId), dto()),
      ];

      await service.setRateLimit(actor(organizationId), one.id, { requests_per_minute: 7, burst: 3 });

      expect((await service.get(organizationId, one.id)).rate_limit).toMatchObject({ source: 'override' });
      expect((await service.get(organizationId, two.id)).rate_limit).toEqual(PRO);
    });
  });

  describe('list by lifecycle status', () => {
    /** When the fixture's rotations happened; each test sets the clock it looks from. */
    const T1 = new Date(START.getTime() + 1);
    let organizationId: string;

    beforeAll(async () => {
      organizationId = await newOrganization();
      const owner = actor(organizationId);
      const inDays = (days: number) => new Date(START.getTime() + days * DAY_MS).toISOString();
      await service.create(owner, dto({ client_id: 'plain' }));
      const rotating = await service.create(owner, dto({ client_id: 'rotating' }));
      const finished = await service.create(owner, dto({ client_id: 'finished' }));
      const noGrace = await service.create(owner, dto({ client_id: 'no-grace' }));
      const rotatingRevoked = await service.create(owner, dto({ client_id: 'rotating-revoked' }));
      const rotatingSoon = await service.create(
        owner,
        dto({ client_id: 'rotating-soon', expires_at: inDays(3) }),
      );
      await service.create(owner, dto({ client_id: 'soon', expires_at: inDays(1) }));
      await service.create(owner, dto({ client_id: 'boundary', expires_at: inDays(7) }));
      await service.create(owner, dto({ client_id: 'later', expires_at: inDays(8) }));
      const soonRevoked = await service.create(
        owner,
        dto({ client_id: 'soon-revoked', expires_at: inDays(1) }),
      );
      await service.create(
        owner,
        dto({ client_id: 'expired', expires_at: new Date(START.getTime() + 1).toISOString() }),
      );
      const soonDeleted = await service.create(
        owner,
        dto({ client_id: 'soon-deleted', expires_at: inDays(1) }),
      );
      clock.set(T1);
      await service.rotate(owner, rotating.id, { grace_period_seconds: 3_600 });
      await service.rotate(owner, finished.id, { grace_period_seconds: 3_600 });
      await service.finishRotation(owner, finished.id);
      await service.rotate(owner, noGrace.id, { grace_period_seconds: 0 });
      await service.rotate(owner, rotatingRevoked.id, { grace_period_seconds: 3_600 });
      await service.revoke(owner, rotatingRevoked.id);
      await service.rotate(owner, rotatingSoon.id, { grace_period_seconds: 3_600 });
      await service.revoke(owner, soonRevoked.id);
      await service.delete(owner, soonDeleted.id);
    });

    async function clientIds(query: ListApiKeysDto): Promise<string[]> {
      return (await listAll(organizationId, { ...query, limit: 3 })).map((key) => key.client_id).sort();
    }

    it('lists the keys whose rotation is running as rotating', async () => {
      clock.set(T1);
      const rotating = await listAll(organizationId, { status: 'rotating' });
      expect(rotating.map((key) => key.client_id).sort()).toEqual(['rotating', 'rotating-soon']);
      expect(rotating.every((key) => key.status === 'rotating' && key.state === 'rotating')).toBe(true);
      expect(rotating.every((key) => key.rotation !== null && key.key_version === 2)).toBe(true);
    });

    it('stops listing a key as rotating once its grace period has passed', async () => {
      clock.set(new Date(T1.getTime() + 3_600_000));
      expect(await clientIds({ status: 'rotating' })).toEqual([]);
    });

    it('lists unrevoked keys expiring within seven days, boundary included, as expiring_soon', async () => {
      clock.set(T1);
      const soon = await listAll(organizationId, { status: 'expiring_soon' });
      expect(soon.map((key) => key.client_id).sort()).toEqual(['boundary', 'rotating-soon', 'soon']);
      expect(soon.every((key) => key.expiry_status === 'expiring_soon')).toBe(true);
    });

    it('moves keys from expiring_soon to expired as time passes', async () => {
      clock.set(new Date(T1.getTime() + 2 * DAY_MS));
      expect(await clientIds({ status: 'expiring_soon' })).toEqual(['boundary', 'later', 'rotating-soon']);
      expect(await clientIds({ status: 'expired' })).toEqual(['expired', 'soon']);
    });

    it('keeps the other filters consistent with the views', async () => {
      clock.set(T1);
      expect(await clientIds({ status: 'revoked' })).toEqual(['rotating-revoked', 'soon-revoked']);
      expect(await clientIds({ status: 'expired' })).toEqual(['expired']);
      expect(
        (await listAll(organizationId, { status: 'active' })).every((key) => key.state !== 'revoked'),
      ).toBe(true);
    });

    // Inconsistency (api-keys.service.ts, list): `status=active` also returns rotating keys, whose view says
    // `status: 'rotating'`; every other status filter returns exactly the keys whose view shows that status.
    // Fix: add `AND NOT (previous_key_hash IS NOT NULL AND previous_retires_at > :now)` to the active case, or
    // document that `active` means "usable" and keep this test's expectation out.
    it('returns only keys whose status is active for status=active', async () => {
      clock.set(T1);
      const active = await listAll(organizationId, { status: 'active' });
      expect(active.map((key) => key.status)).toEqual(active.map(() => 'active'));
      expect(active.map((key) => key.client_id).sort()).toEqual([
        'boundary',
        'finished',
        'later',
        'no-grace',
        'plain',
        'soon',
      ]);
    });
  });

  describe('key protections', () => {
    const WRITE_KEYS_ONLY: Permission[] = ['write:keys'];

    /** Subscribes like another node would, runs `act`, and returns every event heard meanwhile. */
    async function eventsDuring(act: () => Promise<unknown>, expected: number): Promise<KeyEvent[]> {
      const listener = new RedisKeyEventBus({ redis: TEST_REDIS_URL, channel });
      const received: KeyEvent[] = [];
      try {
        await listener.subscribe(
          (event) => received.push(event),
          () => undefined,
        );
        await act();
        const deadline = Date.now() + 5_000;
        while (received.length < expected && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        // A little longer, so that an unexpected extra message would be caught too.
        await new Promise((resolve) => setTimeout(resolve, 50));
        return received;
      } finally {
        await listener.close();
      }
    }

    async function actions(keyId: string): Promise<{ action: string; details: unknown }[]> {
      return dataSource.query(
        `SELECT action, details FROM audit_events WHERE target_id = $1 ORDER BY occurred_at, action`,
        [keyId],
      );
    }

    describe('the caller must hold every permission of the key it changes', () => {
      let organizationId: string;
      let ownerKeyId: string;
      let weakKey: CreatedApiKeyView;
      const attempts: [string, (who: Actor, id: string) => Promise<unknown>][] = [
        ['rotate', (who, id) => service.rotate(who, id, { grace_period_seconds: 60 })],
        ['finishRotation', (who, id) => service.finishRotation(who, id)],
        ['revoke', (who, id) => service.revoke(who, id)],
        ['delete', (who, id) => service.delete(who, id)],
        ['setRateLimit', (who, id) => service.setRateLimit(who, id, { requests_per_minute: 5, burst: 0 })],
        ['clearRateLimit', (who, id) => service.clearRateLimit(who, id)],
        ['disable', (who, id) => service.disable(who, id)],
        ['enable', (who, id) => service.enable(who, id)],
        ['setAllowedIps', (who, id) => service.setAllowedIps(who, id, { allowed_ips: ['10.0.0.0/8'] })],
      ];

      beforeAll(async () => {
        const owner = await service.bootstrap(`protect-${randomBytes(4).toString('hex')}`, 'pro');
        organizationId = owner.organization.id;
        ownerKeyId = owner.api_key_id;
        // A rotation running and an override set, so that finishing and clearing would change something too.
        await service.rotate(actor(organizationId), ownerKeyId, { grace_period_seconds: 3_600 });
        await service.setRateLimit(actor(organizationId), ownerKeyId, { requests_per_minute: 50, burst: 5 });
        weakKey = await service.create(actor(organizationId), dto({ permissions: WRITE_KEYS_ONLY }));
      });

      it.each(attempts)(
        '%s of an owner key by a write:keys-only key answers forbidden, naming what it lacks, and changes nothing',
        async (_name, attempt) => {
          const before = await row(ownerKeyId);
          const trail = await actions(ownerKeyId);
          const weak = keyActor(organizationId, weakKey);

          let outcome: unknown;
          const received = await eventsDuring(async () => {
            outcome = await expectGatehouseError(attempt(weak, ownerKeyId), 'forbidden');
          }, 0);

          expect((outcome as GatehouseError).message).toBe(
            'Changing this key requires every permission it holds; the caller lacks read:keys, read:findings, ' +
              'write:findings',
          );
          expect(await row(ownerKeyId)).toEqual(before);
          expect(await actions(ownerKeyId)).toEqual(trail);
          expect(received).toEqual([]);
          expect(registry.isDisabled(ownerKeyId)).toBe(false);
          expect(registry.isRevoked(ownerKeyId)).toBe(false);
        },
      );

      it('refuses a key missing one permission of the target, and lets one holding all of them through', async () => {
        const target = await service.create(
          actor(organizationId),
          dto({ permissions: ['read:findings', 'write:findings'] }),
        );
        await expectGatehouseError(
          service.rotate(actor(organizationId, ['write:keys', 'write:findings']), target.id, {}),
          'forbidden',
        );
        const rotated = await service.rotate(
          actor(organizationId, ['write:keys', 'read:findings', 'write:findings']),
          target.id,
          { grace_period_seconds: 0 },
        );
        expect(rotated.api_key).toMatch(/^gth_live_/);
      });

      it('lets a key manage itself, since it holds everything it holds', async () => {
        const self = await service.create(actor(organizationId), dto({ permissions: ['write:keys'] }));
        const itself = keyActor(organizationId, self);
        await expect(
          service.setRateLimit(itself, self.id, { requests_per_minute: 30, burst: 3 }),
        ).resolves.toMatchObject({ rate_limit: { requests_per_minute: 30 } });
        await expect(service.disable(itself, self.id)).resolves.toMatchObject({ enabled: false });
        // A disabled key's tokens are refused, here as at the token guard; someone else enables it.
        await expectGatehouseError(service.enable(itself, self.id), 'api_key_disabled');
        await service.enable(actor(organizationId), self.id);
        await expect(service.rotate(itself, self.id, { grace_period_seconds: 0 })).resolves.toMatchObject({
          key_version: 2,
        });
      });

      it('lets a dashboard admin, who holds every permission, rotate, disable and revoke the owner key', async () => {
        const admin: Actor = {
          organizationId,
          permissions: ['read:keys', 'write:keys', 'read:findings', 'write:findings'],
          type: 'user',
          subject: 'user:alice',
          ip: null,
          requestId: null,
        };
        const owner = await service.bootstrap(`protect-admin-${randomBytes(4).toString('hex')}`, 'pro');
        const adminHere = { ...admin, organizationId: owner.organization.id };
        await expect(
          service.rotate(adminHere, owner.api_key_id, { grace_period_seconds: 0 }),
        ).resolves.toMatchObject({ api_key: expect.stringMatching(/^gth_live_/) });
        await expect(service.disable(adminHere, owner.api_key_id)).resolves.toMatchObject({
          status: 'disabled',
        });
        await expect(service.revoke(adminHere, owner.api_key_id)).resolves.toMatchObject({
          status: 'revoked',
        });
      });

      it("answers not_found before forbidden for another organization's key", async () => {
        const elsewhere = await newOrganization();
        await expectGatehouseError(
          service.rotate(actor(elsewhere, WRITE_KEYS_ONLY), ownerKeyId, {}),
          'not_found',
        );
      });
    });

    describe('disable and enable', () => {
      it('disables a key: stored, shown, audited, heard by the registry and broadcast; again changes nothing', async () => {
        const organizationId = await newOrganization();
        const key = await service.create(actor(organizationId), dto());

        let view: ApiKeyView | undefined;
        const received = await eventsDuring(async () => {
          view = await service.disable(actor(organizationId), key.id);
        }, 1);

        expect(view).toMatchObject({
          id: key.id,
          enabled: false,
          disabled_at: START.toISOString(),
          status: 'disabled',
          state: 'disabled',
        });
        expect(await row(key.id)).toMatchObject({ disabled_at: START, revoked_at: null });
        expect(await service.get(organizationId, key.id)).toMatchObject({
          enabled: false,
          status: 'disabled',
        });
        expect(received).toEqual([
          { type: 'key_disabled', apiKeyId: key.id, organizationId, changedAt: START.toISOString() },
        ]);
        expect(registry.isDisabled(key.id)).toBe(true);
        // Disabled is not revoked: enabling must be able to lift it.
        expect(registry.isRevoked(key.id, 1)).toBe(false);
        expect((await actions(key.id)).map((event) => event.action)).toEqual([
          'api_key.created',
          'api_key.disabled',
        ]);

        const again = await eventsDuring(() => service.disable(actor(organizationId), key.id), 0);
        expect(again).toEqual([]);
        expect((await actions(key.id)).map((event) => event.action)).toEqual([
          'api_key.created',
          'api_key.disabled',
        ]);
      });

      it('enables it again, at the same instant too: the registry hears the later change', async () => {
        const organizationId = await newOrganization();
        const key = await service.create(actor(organizationId), dto());
        await service.disable(actor(organizationId), key.id);

        let view: ApiKeyView | undefined;
        const received = await eventsDuring(async () => {
          view = await service.enable(actor(organizationId), key.id);
        }, 1);

        expect(view).toMatchObject({ enabled: true, disabled_at: null, status: 'active', state: 'active' });
        expect(await row(key.id)).toMatchObject({ disabled_at: null });
        expect(received).toEqual([
          {
            type: 'key_enabled',
            apiKeyId: key.id,
            organizationId,
            changedAt: new Date(START.getTime() + 1).toISOString(),
          },
        ]);
        expect(registry.isDisabled(key.id)).toBe(false);
        const again = await eventsDuring(() => service.enable(actor(organizationId), key.id), 0);
        expect(again).toEqual([]);
        expect((await actions(key.id)).map((event) => event.action).sort()).toEqual([
          'api_key.created',
          'api_key.disabled',
          'api_key.enabled',
        ]);

        await service.disable(actor(organizationId), key.id);
        expect(registry.isDisabled(key.id)).toBe(true);
      });

      it('answers conflict for a revoked key and not_found for a deleted one, touching nothing', async () => {
        const organizationId = await newOrganization();
        const revoked = await service.create(actor(organizationId), dto());
        await service.revoke(actor(organizationId), revoked.id);
        await expectGatehouseError(service.disable(actor(organizationId), revoked.id), 'conflict');
        await expectGatehouseError(service.enable(actor(organizationId), revoked.id), 'conflict');
        expect(await row(revoked.id)).toMatchObject({ disabled_at: null });

        const deleted = await service.create(actor(organizationId), dto());
        await service.delete(actor(organizationId), deleted.id);
        await expectGatehouseError(service.disable(actor(organizationId), deleted.id), 'not_found');
      });

      it('lists disabled keys under status=disabled only', async () => {
        const organizationId = await newOrganization();
        const plain = await service.create(actor(organizationId), dto({ client_id: 'plain' }));
        const off = await service.create(actor(organizationId), dto({ client_id: 'off' }));
        const offRevoked = await service.create(actor(organizationId), dto({ client_id: 'off-revoked' }));
        await service.disable(actor(organizationId), off.id);
        await service.disable(actor(organizationId), offRevoked.id);
        await service.revoke(actor(organizationId), offRevoked.id);

        const ids = async (query: ListApiKeysDto) =>
          (await listAll(organizationId, query)).map((key) => key.client_id).sort();
        expect(await ids({ status: 'disabled' })).toEqual(['off']);
        expect(await ids({ status: 'active' })).toEqual(['plain']);
        expect(await ids({ status: 'revoked' })).toEqual(['off-revoked']);
        expect(plain.enabled).toBe(true);
      });

      it('is repaired by the reconcile when a node missed the broadcast, in both directions', async () => {
        const organizationId = await newOrganization();
        const key = await service.create(actor(organizationId), dto());
        // As another node would have done it, without a message reaching this one.
        await dataSource.query(`UPDATE api_keys SET disabled_at = $2 WHERE id = $1`, [key.id, START]);
        expect(registry.isDisabled(key.id)).toBe(false);
        await registry.reconcile();
        expect(registry.isDisabled(key.id)).toBe(true);

        await dataSource.query(`UPDATE api_keys SET disabled_at = NULL WHERE id = $1`, [key.id]);
        await registry.reconcile();
        expect(registry.isDisabled(key.id)).toBe(false);
      });
    });

    describe('allowed IPs', () => {
      it('stores the list given at creation normalized, shows it and audits it', async () => {
        const organizationId = await newOrganization();
        const key = await service.create(
          actor(organizationId),
          dto({ allowed_ips: ['10.9.9.7/24', '::ffff:127.0.0.1', '10.9.9.0/24', '2001:DB8::1'] }),
        );
        const normalized = ['10.9.9.0/24', '127.0.0.1/32', '2001:db8::1/128'];
        expect(key.allowed_ips).toEqual(normalized);
        expect(await row(key.id)).toMatchObject({ allowed_ips: normalized });
        expect(await service.get(organizationId, key.id)).toMatchObject({ allowed_ips: normalized });
        const [created] = await actions(key.id);
        expect(created).toMatchObject({ action: 'api_key.created', details: { allowed_ips: normalized } });

        const open = await service.create(actor(organizationId), dto());
        expect(open.allowed_ips).toEqual([]);
        expect(await row(open.id)).toMatchObject({ allowed_ips: [] });
      });

      it('refuses an entry that is not an address or CIDR, creating nothing', async () => {
        const organizationId = await newOrganization();
        await expectGatehouseError(
          service.create(actor(organizationId), dto({ client_id: 'bad-ips', allowed_ips: ['10.0.0.0/33'] })),
          'validation_failed',
        );
        expect(await listAll(organizationId)).toEqual([]);
      });

      it('replaces the list: stored, audited with before and after, broadcast; the same list changes nothing', async () => {
        const organizationId = await newOrganization();
        const key = await service.create(actor(organizationId), dto({ allowed_ips: ['10.0.0.0/8'] }));

        let view: ApiKeyView | undefined;
        const received = await eventsDuring(async () => {
          view = await service.setAllowedIps(actor(organizationId), key.id, {
            allowed_ips: ['192.0.2.1', 'fe80::/10'],
          });
        }, 1);

        expect(view?.allowed_ips).toEqual(['192.0.2.1/32', 'fe80::/10']);
        expect(await row(key.id)).toMatchObject({ allowed_ips: ['192.0.2.1/32', 'fe80::/10'] });
        expect(received).toEqual([
          { type: 'allowed_ips_changed', apiKeyId: key.id, organizationId, changedAt: START.toISOString() },
        ]);
        // Nothing is revoked or disabled by it: tokens carry their own list.
        expect(registry.isRevoked(key.id, 1)).toBe(false);
        expect(registry.isDisabled(key.id)).toBe(false);
        const changed = (await actions(key.id)).filter(
          (event) => event.action === 'api_key.allowed_ips_changed',
        );
        expect(changed).toEqual([
          {
            action: 'api_key.allowed_ips_changed',
            details: { before: ['10.0.0.0/8'], after: ['192.0.2.1/32', 'fe80::/10'] },
          },
        ]);

        const same = await eventsDuring(
          () =>
            service.setAllowedIps(actor(organizationId), key.id, {
              allowed_ips: ['192.0.2.1/32', 'fe80::1/10'],
            }),
          0,
        );
        expect(same).toEqual([]);
        expect(
          (await actions(key.id)).filter((event) => event.action === 'api_key.allowed_ips_changed'),
        ).toHaveLength(1);

        const cleared = await service.setAllowedIps(actor(organizationId), key.id, { allowed_ips: [] });
        expect(cleared.allowed_ips).toEqual([]);
        expect(await row(key.id)).toMatchObject({ allowed_ips: [] });
      });

      it('answers conflict for a revoked key and validation_failed for a bad entry, touching nothing', async () => {
        const organizationId = await newOrganization();
        const key = await service.create(actor(organizationId), dto({ allowed_ips: ['10.0.0.0/8'] }));
        await expectGatehouseError(
          service.setAllowedIps(actor(organizationId), key.id, { allowed_ips: ['not-an-ip'] }),
          'validation_failed',
        );
        await service.revoke(actor(organizationId), key.id);
        await expectGatehouseError(
          service.setAllowedIps(actor(organizationId), key.id, { allowed_ips: [] }),
          'conflict',
        );
        expect(await row(key.id)).toMatchObject({ allowed_ips: ['10.0.0.0/8'] });
      });
    });
  });

  describe("changes made with a key's token are judged against the key as it is now", () => {
    /** Every mutation a token may attempt, of the key `id`. */
    const mutations: [string, (who: Actor, id: string) => Promise<unknown>][] = [
      ['rotate', (who, id) => service.rotate(who, id, { grace_period_seconds: 0 })],
      ['finishRotation', (who, id) => service.finishRotation(who, id)],
      ['revoke', (who, id) => service.revoke(who, id)],
      ['delete', (who, id) => service.delete(who, id)],
      ['setRateLimit', (who, id) => service.setRateLimit(who, id, { requests_per_minute: 5, burst: 0 })],
      ['clearRateLimit', (who, id) => service.clearRateLimit(who, id)],
      ['disable', (who, id) => service.disable(who, id)],
      ['enable', (who, id) => service.enable(who, id)],
      ['setAllowedIps', (who, id) => service.setAllowedIps(who, id, { allowed_ips: [] })],
    ];

    async function auditCount(organizationId: string): Promise<number> {
      const [{ count }] = await dataSource.query<{ count: string }[]>(
        `SELECT count(*) FROM audit_events WHERE organization_id = $1`,
        [organizationId],
      );
      return Number(count);
    }

    describe('a token from a secret being retired by a rotation', () => {
      let organizationId: string;
      let key: CreatedApiKeyView;
      let other: CreatedApiKeyView;
      let rotated: CreatedApiKeyView;
      let stale: Actor;

      beforeAll(async () => {
        organizationId = await newOrganization();
        key = await service.create(actor(organizationId), dto({ permissions: [...PERMISSIONS] }));
        other = await service.create(actor(organizationId), dto());
        // Issued before the owner rotates: the old secret keeps authenticating during the grace period.
        stale = keyActor(organizationId, key);
        rotated = await service.rotate(actor(organizationId), key.id, { grace_period_seconds: 86_400 });
      });

      it.each(mutations)(
        '%s of its own key or another key answers forbidden and changes nothing',
        async (_name, mutation) => {
          const before = [await row(key.id), await row(other.id)];
          const audited = await auditCount(organizationId);
          for (const target of [key.id, other.id]) {
            const error = await expectGatehouseError(mutation(stale, target), 'forbidden');
            expect(error.message).toBe(
              'A secret being retired by a rotation cannot create or change keys; use the new secret',
            );
          }
          expect([await row(key.id), await row(other.id)]).toEqual(before);
          expect(await auditCount(organizationId)).toBe(audited);
        },
      );

      it('cannot create a key', async () => {
        const audited = await auditCount(organizationId);
        await expectGatehouseError(service.create(stale, dto({ client_id: 'from-stale' })), 'forbidden');
        expect(await listAll(organizationId)).toHaveLength(2);
        expect(await auditCount(organizationId)).toBe(audited);
      });

      it('never gets a secret from a finish raced against 20 rotations', async () => {
        const before = await row(key.id);
        const outcomes = await Promise.allSettled([
          service.finishRotation(stale, key.id),
          ...Array.from({ length: 20 }, () => service.rotate(stale, key.id, { grace_period_seconds: 0 })),
        ]);

        for (const outcome of outcomes) {
          expect(outcome.status).toBe('rejected');
          expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'forbidden' });
        }
        expect(await row(key.id)).toEqual(before);
        expect(await row(key.id)).toMatchObject({ key_version: 2, key_hash: hashApiKey(rotated.api_key) });
      });

      it("leaves the new secret's token free to finish the rotation and create keys", async () => {
        const current = keyActor(organizationId, rotated);
        await expect(service.create(current, dto())).resolves.toMatchObject({ created_by: current.subject });
        await expect(service.finishRotation(current, key.id)).resolves.toMatchObject({ state: 'active' });
      });
    });

    describe("a token used from outside its key's current allowlist", () => {
      it('answers ip_not_allowed for a token of a restricted key used from elsewhere, and lets it in from inside', async () => {
        const organizationId = await newOrganization();
        const restricted = await service.create(
          actor(organizationId),
          dto({ permissions: [...PERMISSIONS], allowed_ips: ['10.0.0.0/8'] }),
        );
        const other = await service.create(actor(organizationId), dto());
        const outside = keyActor(organizationId, restricted, '203.0.113.9');
        const audited = await auditCount(organizationId);

        await expectGatehouseError(service.create(outside, dto()), 'ip_not_allowed');
        for (const [, mutation] of mutations) {
          await expectGatehouseError(mutation(outside, restricted.id), 'ip_not_allowed');
          await expectGatehouseError(mutation(outside, other.id), 'ip_not_allowed');
        }
        expect(await row(restricted.id)).toMatchObject({ allowed_ips: ['10.0.0.0/8'], key_version: 1 });
        expect(await auditCount(organizationId)).toBe(audited);
        // Without an address nothing can be inside a list.
        await expectGatehouseError(
          service.create(keyActor(organizationId, restricted), dto()),
          'ip_not_allowed',
        );

        const inside = keyActor(organizationId, restricted, '10.1.2.3');
        await expect(service.create(inside, dto())).resolves.toMatchObject({ created_by: inside.subject });
      });

      it('judges a token minted before a restriction by the restriction: it can neither lift it nor act', async () => {
        const organizationId = await newOrganization();
        const key = await service.create(actor(organizationId), dto({ permissions: [...PERMISSIONS] }));
        const minted = keyActor(organizationId, key, '203.0.113.9');
        await service.setAllowedIps(actor(organizationId), key.id, { allowed_ips: ['10.0.0.0/8'] });

        await expectGatehouseError(
          service.setAllowedIps(minted, key.id, { allowed_ips: [] }),
          'ip_not_allowed',
        );
        await expectGatehouseError(service.create(minted, dto()), 'ip_not_allowed');
        await expectGatehouseError(service.rotate(minted, key.id, {}), 'ip_not_allowed');
        expect(await row(key.id)).toMatchObject({ allowed_ips: ['10.0.0.0/8'], key_version: 1 });
      });
    });

    it('refuses a token of a key revoked or disabled before the broadcast reached this node', async () => {
      const organizationId = await newOrganization();
      const revoked = await service.create(actor(organizationId), dto({ permissions: [...PERMISSIONS] }));
      const disabled = await service.create(actor(organizationId), dto({ permissions: [...PERMISSIONS] }));
      await service.revoke(actor(organizationId), revoked.id);
      await service.disable(actor(organizationId), disabled.id);

      await expectGatehouseError(service.create(keyActor(organizationId, revoked), dto()), 'token_revoked');
      await expectGatehouseError(
        service.create(keyActor(organizationId, disabled), dto()),
        'api_key_disabled',
      );
    });
  });
});
