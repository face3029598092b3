import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { PERMISSIONS, type Permission } from '@gatehouse/contracts';
import { type AuditActorType, type Plan } from '@gatehouse/persistence';
import { RevocationRegistry } from '@gatehouse/revocation';
import { ManualClock } from '@gatehouse/testing';
import type { Actor, UserOrSystemActor } from './actor';
import { expectGatehouseError, startApiKeysTestModule, type ApiKeysTestModule } from './api-keys.int-support';
import { ApiKeysService } from './api-keys.service';
import { AuditService, type AuditEventView } from './audit.service';
import type { CreateApiKeyDto } from './dto/create-api-key.dto';
import type { ListAuditEventsDto } from './dto/list-audit-events.dto';

const START = new Date('2030-01-01T12:00:00.000Z');
const SECOND = 1_000;

function at(seconds: number): string {
  return new Date(START.getTime() + seconds * SECOND).toISOString();
}

/** TypeORM logs failed queries; the expected failures need not fill the output. */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    return await run();
  } finally {
    log.mockRestore();
  }
}

describe('AuditService and the audit trail of ApiKeysService (PostgreSQL)', () => {
  const clock = new ManualClock(START);
  let testModule: ApiKeysTestModule;
  let keys: ApiKeysService;
  let audit: AuditService;
  let dataSource: DataSource;
  let registry: RevocationRegistry;

  beforeAll(async () => {
    testModule = await startApiKeysTestModule({ clock });
    const { app } = testModule;
    keys = app.get(ApiKeysService);
    audit = app.get(AuditService);
    dataSource = app.get(DataSource);
    registry = app.get(RevocationRegistry);
  });

  afterAll(async () => {
    await testModule?.close();
  });

  beforeEach(() => clock.set(START));

  async function newOrganization(plan: Plan = 'pro'): Promise<string> {
    const [row] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO organizations (name, plan) VALUES ($1, $2) RETURNING id`,
      [`org-${randomBytes(5).toString('hex')}`, plan],
    );
    return row.id;
  }

  function actor(
    organizationId: string,
    overrides: Partial<UserOrSystemActor> = {},
    permissions: readonly Permission[] = PERMISSIONS,
  ): Actor {
    return {
      organizationId,
      permissions,
      type: 'user',
      subject: 'user:alice',
      ip: '198.51.100.10',
      requestId: `req-${randomBytes(4).toString('hex')}`,
      ...overrides,
    };
  }

  /** A key acting through its token: changes are judged against its row, so the key exists, unaudited. */
  async function keyActor(
    organizationId: string,
    overrides: Partial<Pick<Actor, 'ip' | 'requestId'>> = {},
  ): Promise<Actor> {
    const [row] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO api_keys (organization_id, name, client_id, permissions, environment, key_hash, key_prefix,
         key_last4, created_by, created_at)
       VALUES ($1, 'robot', $2, $3, 'live', $4, 'gth_live_', 'abcd', 'system:test', $5) RETURNING id`,
      [organizationId, `robot-${randomBytes(4).toString('hex')}`, PERMISSIONS, randomBytes(32), START],
    );
    return {
      organizationId,
      permissions: PERMISSIONS,
      subject: `api_key:${row.id}`,
      ip: null,
      requestId: `req-${randomBytes(4).toString('hex')}`,
      ...overrides,
      type: 'api_key',
      apiKeyId: row.id,
      keyVersion: 1,
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

  async function allEvents(
    organizationId: string,
    query: ListAuditEventsDto = {},
  ): Promise<AuditEventView[]> {
    const events: AuditEventView[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page += 1) {
      const result = await audit.list(organizationId, { ...query, cursor });
      events.push(...result.data);
      if (!result.next_cursor) return events;
      cursor = result.next_cursor;
    }
    throw new Error('pagination did not end');
  }

  async function exported(organizationId: string, query: ListAuditEventsDto = {}): Promise<string[]> {
    const chunks: string[] = [];
    for await (const chunk of await audit.export(organizationId, query)) chunks.push(chunk);
    return chunks;
  }

  describe('rows written by ApiKeysService', () => {
    it('records create, rotate, finish, revoke and delete with the actor, address, request id and target', async () => {
      const organizationId = await newOrganization();
      const alice = (requestId: string) => actor(organizationId, { requestId });
      const expiresAt = new Date(START.getTime() + 30 * 86_400_000).toISOString();

      const key = await keys.create(
        alice('req-create'),
        dto({ name: 'Scanner', client_id: 'audited', expires_at: expiresAt, environment: 'test' }),
      );
      clock.advance(SECOND);
      await keys.rotate(alice('req-rotate'), key.id, { grace_period_seconds: 600 });
      clock.advance(SECOND);
      await keys.finishRotation(alice('req-finish'), key.id);
      clock.advance(SECOND);
      const robot = await keyActor(organizationId, { ip: '2001:db8::7', requestId: 'req-revoke' });
      await keys.revoke(robot, key.id);
      clock.advance(SECOND);
      await keys.delete(alice('req-delete'), key.id);

      const events = await allEvents(organizationId);

      const common = { target_type: 'api_key', target_id: key.id };
      const byAlice = { actor_type: 'user', actor: 'user:alice', ip: '198.51.100.10' };
      expect(events).toEqual([
        {
          id: expect.any(String),
          occurred_at: at(4),
          ...byAlice,
          ...common,
          action: 'api_key.deleted',
          request_id: 'req-delete',
          details: null,
        },
        {
          id: expect.any(String),
          occurred_at: at(3),
          actor_type: 'api_key',
          actor: robot.subject,
          ip: '2001:db8::7',
          ...common,
          action: 'api_key.revoked',
          request_id: 'req-revoke',
          details: null,
        },
        {
          id: expect.any(String),
          occurred_at: at(2),
          ...byAlice,
          ...common,
          action: 'api_key.rotation_finished',
          request_id: 'req-finish',
          details: { key_version: 2 },
        },
        {
          id: expect.any(String),
          occurred_at: at(1),
          ...byAlice,
          ...common,
          action: 'api_key.rotated',
          request_id: 'req-rotate',
          details: { key_version: 2, grace_period_seconds: 600, previous_retires_at: at(601) },
        },
        {
          id: expect.any(String),
          occurred_at: at(0),
          ...byAlice,
          ...common,
          action: 'api_key.created',
          request_id: 'req-create',
          details: {
            name: 'Scanner',
            client_id: 'audited',
            permissions: ['read:findings', 'write:findings'],
            environment: 'test',
            expires_at: expiresAt,
            allowed_ips: [],
            description: null,
            metadata: {},
          },
        },
      ]);
      // Never a secret or a hash in the trail.
      const serialized = JSON.stringify(events);
      expect(serialized).not.toContain(key.api_key);
      expect(serialized).not.toContain(key.api_key.slice('gth_test_'.length));
    });

    it('records a bootstrap as the system, with the organization and then the owner key as targets', async () => {
      const result = await keys.bootstrap(`boot-${randomBytes(3).toString('hex')}`, 'starter');

      const events = await allEvents(result.organization.id);

      const system = { actor_type: 'system', actor: 'system:bootstrap', ip: null, request_id: null };
      expect([...events].sort((a, b) => a.action.localeCompare(b.action))).toEqual([
        {
          id: expect.any(String),
          occurred_at: at(0),
          ...system,
          action: 'api_key.created',
          target_type: 'api_key',
          target_id: result.api_key_id,
          details: {
            name: 'Owner key',
            client_id: result.client_id,
            permissions: [...PERMISSIONS],
            environment: 'live',
            expires_at: null,
            allowed_ips: [],
            description: null,
            metadata: {},
          },
        },
        {
          id: expect.any(String),
          occurred_at: at(0),
          ...system,
          action: 'organization.bootstrapped',
          target_type: 'organization',
          target_id: result.organization.id,
          details: { plan: 'starter', created: true },
        },
      ]);
    });

    it('records a grace period of 0 on the rotation', async () => {
      const organizationId = await newOrganization();
      const key = await keys.create(actor(organizationId), dto());
      await keys.rotate(actor(organizationId), key.id, { grace_period_seconds: 0 });

      const [rotated] = await allEvents(organizationId, { action: 'api_key.rotated' });
      expect(rotated.details).toEqual({
        key_version: 2,
        grace_period_seconds: 0,
        previous_retires_at: at(0),
      });
    });

    it('writes nothing for a refused mutation, nor for revoking a key that is already revoked', async () => {
      const organizationId = await newOrganization();
      const other = await newOrganization();
      const starter = await newOrganization('starter');
      const owner = actor(organizationId);
      const key = await keys.create(owner, dto({ client_id: 'taken' }));
      await keys.revoke(owner, key.id);
      const before = await allEvents(organizationId);
      expect(before.map((event) => event.action).sort()).toEqual(['api_key.created', 'api_key.revoked']);

      await quietly(() => expectGatehouseError(keys.create(owner, dto({ client_id: 'taken' })), 'conflict'));
      await expectGatehouseError(
        keys.create(actor(organizationId, {}, ['read:keys', 'write:keys']), dto()),
        'forbidden',
      );
      await expectGatehouseError(keys.create(actor(starter), dto()), 'plan_not_allowed');
      await expectGatehouseError(keys.rotate(owner, key.id, {}), 'conflict');
      await expectGatehouseError(keys.finishRotation(owner, key.id), 'conflict');
      await expectGatehouseError(keys.revoke(actor(other), key.id), 'not_found');
      await keys.revoke(owner, key.id); // idempotent: nothing changes, nothing is recorded

      expect(await allEvents(organizationId)).toEqual(before);
      expect(await allEvents(other)).toEqual([]);
      expect(await allEvents(starter)).toEqual([]);
    });

    it('records setting and clearing a rate limit override with the limits before and after', async () => {
      const organizationId = await newOrganization('enterprise');
      const alice = (requestId: string) => actor(organizationId, { requestId });
      const key = await keys.create(alice('req-create'), dto());
      clock.advance(SECOND);
      await keys.setRateLimit(alice('req-set'), key.id, { requests_per_minute: 120, burst: 20 });
      clock.advance(SECOND);
      await keys.setRateLimit(alice('req-lower'), key.id, { requests_per_minute: 30, burst: 0 });
      clock.advance(SECOND);
      await keys.clearRateLimit(alice('req-clear'), key.id);

      const events = await allEvents(organizationId, { target_id: key.id });

      const common = {
        id: expect.any(String),
        actor_type: 'user',
        actor: 'user:alice',
        ip: '198.51.100.10',
        target_type: 'api_key',
        target_id: key.id,
      };
      const plan = { requests_per_minute: 1000, burst: 100, source: 'plan' };
      expect(events.slice(0, 3)).toEqual([
        {
          ...common,
          occurred_at: at(3),
          action: 'api_key.rate_limit_cleared',
          request_id: 'req-clear',
          details: { before: { requests_per_minute: 30, burst: 0, source: 'override' }, after: plan },
        },
        {
          ...common,
          occurred_at: at(2),
          action: 'api_key.rate_limit_set',
          request_id: 'req-lower',
          details: {
            before: { requests_per_minute: 120, burst: 20, source: 'override' },
            after: { requests_per_minute: 30, burst: 0, source: 'override' },
          },
        },
        {
          ...common,
          occurred_at: at(1),
          action: 'api_key.rate_limit_set',
          request_id: 'req-set',
          details: { before: plan, after: { requests_per_minute: 120, burst: 20, source: 'override' } },
        },
      ]);
      expect(events.map((event) => event.action)).toEqual([
        'api_key.rate_limit_cleared',
        'api_key.rate_limit_set',
        'api_key.rate_limit_set',
        'api_key.created',
      ]);
      const filtered = await allEvents(organizationId, { action: 'api_key.rate_limit_set' });
      expect(filtered.map((event) => event.request_id)).toEqual(['req-lower', 'req-set']);
    });

    it('writes nothing for a rate limit change that is refused or changes nothing', async () => {
      const organizationId = await newOrganization();
      const other = await newOrganization();
      const owner = actor(organizationId);
      const key = await keys.create(owner, dto());
      const revoked = await keys.create(owner, dto());
      await keys.revoke(owner, revoked.id);
      await keys.setRateLimit(owner, key.id, { requests_per_minute: 10, burst: 1 });
      const before = await allEvents(organizationId);

      await keys.setRateLimit(owner, key.id, { requests_per_minute: 10, burst: 1 });
      await expectGatehouseError(
        keys.setRateLimit(actor(other), key.id, { requests_per_minute: 5, burst: 0 }),
        'not_found',
      );
      await expectGatehouseError(keys.clearRateLimit(actor(other), key.id), 'not_found');
      await expectGatehouseError(
        keys.setRateLimit(owner, revoked.id, { requests_per_minute: 5, burst: 0 }),
        'conflict',
      );
      await expectGatehouseError(keys.clearRateLimit(owner, revoked.id), 'conflict');
      // Events of one instant have no order of their own; a later clear is listed first only if it is later.
      clock.advance(SECOND);
      await keys.clearRateLimit(owner, key.id);
      await keys.clearRateLimit(owner, key.id);

      const after = await allEvents(organizationId);
      expect(after.slice(1)).toEqual(before);
      expect(after[0]).toMatchObject({ action: 'api_key.rate_limit_cleared', target_id: key.id });
      expect(await allEvents(other)).toEqual([]);
    });

    it('rolls an override back when its audit row cannot be written', async () => {
      const organizationId = await newOrganization();
      const owner = actor(organizationId);
      const key = await keys.create(owner, dto());
      const heard = jest.fn();
      registry.onRateLimitChanged(heard);
      await dataSource.query(
        `ALTER TABLE audit_events ADD CONSTRAINT test_no_overrides CHECK (action <> 'api_key.rate_limit_set') NOT VALID`,
      );
      try {
        await expect(keys.setRateLimit(owner, key.id, { requests_per_minute: 10, burst: 1 })).rejects.toThrow(
          /test_no_overrides/,
        );
      } finally {
        await dataSource.query(`ALTER TABLE audit_events DROP CONSTRAINT test_no_overrides`);
      }

      const [row] = await dataSource.query<{ rate_limit_per_minute: number | null }[]>(
        `SELECT rate_limit_per_minute FROM api_keys WHERE id = $1`,
        [key.id],
      );
      expect(row.rate_limit_per_minute).toBeNull();
      expect(heard).not.toHaveBeenCalled();
      expect((await keys.get(organizationId, key.id)).rate_limit).toMatchObject({ source: 'plan' });
    });

    it('rolls the mutation back when its audit row cannot be written', async () => {
      const organizationId = await newOrganization();
      const owner = actor(organizationId);
      const key = await keys.create(owner, dto());
      await dataSource.query(
        `ALTER TABLE audit_events ADD CONSTRAINT test_no_revocations CHECK (action <> 'api_key.revoked') NOT VALID`,
      );
      try {
        await expect(keys.revoke(owner, key.id)).rejects.toThrow(/test_no_revocations/);
      } finally {
        await dataSource.query(`ALTER TABLE audit_events DROP CONSTRAINT test_no_revocations`);
      }

      const [row] = await dataSource.query<{ revoked_at: Date | null }[]>(
        `SELECT revoked_at FROM api_keys WHERE id = $1`,
        [key.id],
      );
      expect(row.revoked_at).toBeNull();
      expect(registry.isRevoked(key.id)).toBe(false);
      expect((await allEvents(organizationId)).map((event) => event.action)).toEqual(['api_key.created']);
    });
  });

  describe('list', () => {
    let organizationId: string;
    let otherOrganizationId: string;
    let keyA: string;
    let keyB: string;
    let otherKey: string;
    let ciSubject: string;

    /**
     * Seven events over six seconds:
     *   0 s  alice creates A, alice creates B (same instant)
     *   1 s  alice rotates A
     *   2 s  the CI key finishes A's rotation
     *   3 s  the CI key revokes B
     *   4 s  alice deletes B
     *   5 s  bob rotates A again (grace 0)
     * and, in another organization, a key created at 2 s by alice.
     */
    beforeAll(async () => {
      clock.set(START);
      organizationId = await newOrganization();
      otherOrganizationId = await newOrganization();
      const alice = actor(organizationId);
      const ci = await keyActor(organizationId);
      ciSubject = ci.subject;
      const bob = actor(organizationId, { subject: 'user:bob' });
      keyA = (await keys.create(alice, dto())).id;
      keyB = (await keys.create(alice, dto())).id;
      clock.advance(SECOND);
      await keys.rotate(alice, keyA, { grace_period_seconds: 3_600 });
      clock.advance(SECOND);
      await keys.finishRotation(ci, keyA);
      otherKey = (await keys.create(actor(otherOrganizationId), dto())).id;
      clock.advance(SECOND);
      await keys.revoke(ci, keyB);
      clock.advance(SECOND);
      await keys.delete(alice, keyB);
      clock.advance(SECOND);
      await keys.rotate(bob, keyA, { grace_period_seconds: 0 });
    });

    function summary(events: AuditEventView[]): string[] {
      const names = new Map([
        [keyA, 'A'],
        [keyB, 'B'],
      ]);
      return events.map(
        (event) =>
          `${event.occurred_at.slice(17, 19)}s ${event.action} ${names.get(event.target_id ?? '') ?? '?'}`,
      );
    }

    it('lists every event of the organization only, newest first', async () => {
      const events = await allEvents(organizationId);

      expect(summary(events).slice(0, 5)).toEqual([
        '05s api_key.rotated A',
        '04s api_key.deleted B',
        '03s api_key.revoked B',
        '02s api_key.rotation_finished A',
        '01s api_key.rotated A',
      ]);
      expect(summary(events).slice(5).sort()).toEqual(['00s api_key.created A', '00s api_key.created B']);
      expect(events.map((event) => event.target_id)).not.toContain(otherKey);
      expect((await allEvents(otherOrganizationId)).map((event) => event.target_id)).toEqual([otherKey]);
    });

    it('pages with a cursor, each event exactly once, ties included', async () => {
      const all = await allEvents(organizationId);
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await audit.list(organizationId, { limit: 2, cursor });
        pages.push(page.data.map((event) => event.id));
        cursor = page.next_cursor ?? undefined;
      } while (cursor && pages.length < 10);

      expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
      expect(pages.flat()).toEqual(all.map((event) => event.id));
      // Ties (the two creations at 0 s) are ordered by id, as the cursor compares (occurred_at, id).
      const ties = all.slice(5).map((event) => event.id);
      expect(ties).toEqual([...ties].sort().reverse());
    });

    it('ends with a null cursor when the last page is exactly full', async () => {
      const page = await audit.list(otherOrganizationId, { limit: 1 });
      expect(page.data).toHaveLength(1);
      expect(page.next_cursor).toBeNull();
    });

    it('filters by action', async () => {
      expect(summary(await allEvents(organizationId, { action: 'api_key.rotated' }))).toEqual([
        '05s api_key.rotated A',
        '01s api_key.rotated A',
      ]);
      expect(await allEvents(organizationId, { action: 'organization.bootstrapped' })).toEqual([]);
    });

    it('filters by actor and actor type', async () => {
      expect(summary(await allEvents(organizationId, { actor: ciSubject }))).toEqual([
        '03s api_key.revoked B',
        '02s api_key.rotation_finished A',
      ]);
      expect(summary(await allEvents(organizationId, { actor: 'user:bob' }))).toEqual([
        '05s api_key.rotated A',
      ]);
      const users = await allEvents(organizationId, { actor_type: 'user' as AuditActorType });
      expect(users).toHaveLength(5);
      expect(users.every((event) => event.actor_type === 'user')).toBe(true);
    });

    it('filters by target, and finds nothing for a key of another organization', async () => {
      expect(summary(await allEvents(organizationId, { target_id: keyB }))).toEqual([
        '04s api_key.deleted B',
        '03s api_key.revoked B',
        '00s api_key.created B',
      ]);
      expect(await allEvents(organizationId, { target_id: otherKey })).toEqual([]);
      expect(await allEvents(otherOrganizationId, { target_id: keyA })).toEqual([]);
    });

    it('filters by time: since is inclusive, until exclusive', async () => {
      expect(summary(await allEvents(organizationId, { since: at(3) }))).toEqual([
        '05s api_key.rotated A',
        '04s api_key.deleted B',
        '03s api_key.revoked B',
      ]);
      expect(summary(await allEvents(organizationId, { until: at(1) }))).toHaveLength(2);
      expect(summary(await allEvents(organizationId, { since: at(1), until: at(3) }))).toEqual([
        '02s api_key.rotation_finished A',
        '01s api_key.rotated A',
      ]);
    });

    it('combines filters with the cursor', async () => {
      const first = await audit.list(organizationId, { target_id: keyA, limit: 1 });
      const second = await audit.list(organizationId, {
        target_id: keyA,
        limit: 2,
        cursor: first.next_cursor ?? undefined,
      });
      expect(summary([...first.data, ...second.data])).toEqual([
        '05s api_key.rotated A',
        '02s api_key.rotation_finished A',
        '01s api_key.rotated A',
      ]);
      expect(second.next_cursor).not.toBeNull();
    });

    it('refuses a damaged cursor', async () => {
      await expectGatehouseError(audit.list(organizationId, { cursor: 'garbage' }), 'validation_failed');
      const forged = Buffer.from(`${at(1)}|not-a-uuid`).toString('base64url');
      await expectGatehouseError(audit.list(organizationId, { cursor: forged }), 'validation_failed');
      const badDate = Buffer.from(`yesterday|${randomUUID()}`).toString('base64url');
      await expectGatehouseError(audit.list(organizationId, { cursor: badDate }), 'validation_failed');
    });

    it("never shows another organization's events through a cursor made from its own", async () => {
      const page = await audit.list(organizationId, { limit: 1 });
      const foreign = await allEvents(otherOrganizationId, { cursor: page.next_cursor ?? undefined });
      expect(foreign.every((event) => event.target_id === otherKey)).toBe(true);
    });

    describe('export', () => {
      it('yields one JSON object per line, the same events as the list', async () => {
        const lines = await exported(organizationId);

        expect(lines.every((line) => line.endsWith('\n') && line.indexOf('\n') === line.length - 1)).toBe(
          true,
        );
        const parsed = lines.map((line) => JSON.parse(line) as AuditEventView);
        expect(parsed).toEqual(await allEvents(organizationId));
      });

      it('applies the filters and stays within the organization', async () => {
        const lines = await exported(organizationId, { action: 'api_key.rotated' });
        expect(summary(lines.map((line) => JSON.parse(line) as AuditEventView))).toEqual([
          '05s api_key.rotated A',
          '01s api_key.rotated A',
        ]);
        expect(await exported(organizationId, { target_id: otherKey })).toEqual([]);
        const foreign = (await exported(otherOrganizationId)).map(
          (line) => JSON.parse(line) as AuditEventView,
        );
        expect(foreign.map((event) => event.target_id)).toEqual([otherKey]);
      });
    });
  });

  describe('export of a long trail', () => {
    it('reads page after page, yielding every event once, newest first', async () => {
      const organizationId = await newOrganization();
      const system = actor(organizationId, {
        type: 'system',
        subject: 'system:test',
        ip: null,
        requestId: null,
      });
      const count = 450; // more than two export pages of 200
      await dataSource.transaction(async (manager) => {
        for (let i = 0; i < count; i += 1) {
          clock.set(new Date(START.getTime() + Math.floor(i / 3) * SECOND)); // three events per instant
          await audit.record(manager, system, 'api_key.created', { type: 'api_key', id: `key-${i}` });
        }
      });

      const events = (await exported(organizationId)).map((line) => JSON.parse(line) as AuditEventView);

      expect(events).toHaveLength(count);
      expect(new Set(events.map((event) => event.id)).size).toBe(count);
      expect(new Set(events.map((event) => event.target_id)).size).toBe(count);
      const times = events.map((event) => event.occurred_at);
      expect(times).toEqual([...times].sort().reverse());
      expect(events.every((event) => event.actor === 'system:test' && event.ip === null)).toBe(true);
    });
  });
});
