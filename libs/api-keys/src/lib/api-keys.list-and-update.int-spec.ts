import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { PERMISSIONS, type Permission, type Principal } from '@gatehouse/contracts';
import { ManualClock } from '@gatehouse/testing';
import type { Actor } from './actor';
import { API_KEY_SORTS, SORT_ORDERS, type ApiKeySort, type SortOrder } from './api-key-list-cursor';
import type { ApiKeyView } from './api-key.view';
import { expectGatehouseError, startApiKeysTestModule, type ApiKeysTestModule } from './api-keys.int-support';
import { ApiKeysService } from './api-keys.service';
import type { ListApiKeysDto } from './dto/list-api-keys.dto';
import { MeService } from './me.service';

const START = new Date('2030-01-01T12:00:00.000Z');

describe('ApiKeysService list sorting, search and update; MeService (PostgreSQL)', () => {
  const clock = new ManualClock(START);
  let testModule: ApiKeysTestModule;
  let service: ApiKeysService;
  let me: MeService;
  let dataSource: DataSource;

  beforeAll(async () => {
    testModule = await startApiKeysTestModule({ clock });
    const { app } = testModule;
    service = app.get(ApiKeysService);
    me = app.get(MeService);
    dataSource = app.get(DataSource);
  });

  afterAll(async () => {
    await testModule?.close();
  });

  async function newOrganization(name = `org-${randomBytes(5).toString('hex')}`): Promise<string> {
    const [row] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO organizations (name, plan) VALUES ($1, 'pro') RETURNING id`,
      [name],
    );
    return row.id;
  }

  function actor(organizationId: string, permissions: readonly Permission[] = PERMISSIONS): Actor {
    return { organizationId, permissions, type: 'user', subject: 'user:test', ip: null, requestId: null };
  }

  function keyActor(organizationId: string, key: ApiKeyView): Actor {
    return {
      organizationId,
      permissions: key.permissions,
      type: 'api_key',
      subject: `api_key:${key.id}`,
      apiKeyId: key.id,
      keyVersion: key.key_version,
      ip: null,
      requestId: null,
    };
  }

  async function createKey(
    organizationId: string,
    overrides: { name?: string; client_id?: string; permissions?: Permission[] } = {},
  ): Promise<ApiKeyView> {
    return service.create(actor(organizationId), {
      name: 'CI key',
      client_id: `client-${randomBytes(4).toString('hex')}`,
      permissions: ['read:findings', 'write:findings'],
      ...overrides,
    });
  }

  async function walk(organizationId: string, query: ListApiKeysDto): Promise<ApiKeyView[]> {
    const all: ApiKeyView[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 200; page += 1) {
      const result = await service.list(organizationId, { ...query, cursor });
      expect(result.data.length).toBeLessThanOrEqual(query.limit ?? 50);
      all.push(...result.data);
      if (!result.next_cursor) return all;
      cursor = result.next_cursor;
    }
    throw new Error('pagination did not end');
  }

  describe('list: sort, order, search and keyset pages', () => {
    let organizationId: string;
    let keys: ApiKeyView[];

    beforeAll(async () => {
      organizationId = await newOrganization();
      // Few distinct values on purpose: ties in every sort column, so that only the id can order them.
      const names = ['a', 'b', 'ab', 'ba', 'abc', 'c', 'b', 'a'];
      const times = ['2030-01-01T00:00:00.000Z', '2030-01-02T00:00:00.000Z', '2030-01-03T00:00:00.000Z'];
      for (let index = 0; index < 24; index += 1) {
        const key = await createKey(organizationId, {
          name: names[index % names.length],
          client_id: `${['ci', 'cd', 'Deploy'][index % 3]}-${index}`,
        });
        await dataSource.query(`UPDATE api_keys SET created_at = $2, last_used_at = $3 WHERE id = $1`, [
          key.id,
          times[index % 3],
          index % 4 === 0 ? null : times[(index + 1) % 3],
        ]);
      }
      keys = await walk(organizationId, { limit: 100 });
      expect(keys).toHaveLength(24);
    });

    function sortValue(key: ApiKeyView, sort: ApiKeySort): string | null {
      return sort === 'name' ? key.name : key[sort];
    }

    /** The order the API promises, computed here independently of SQL. */
    function expected(sort: ApiKeySort, order: SortOrder, q?: string): string[] {
      const needle = q?.toLowerCase();
      const sign = order === 'asc' ? 1 : -1;
      return keys
        .filter(
          (key) =>
            needle === undefined ||
            key.name.toLowerCase().includes(needle) ||
            key.client_id.toLowerCase().startsWith(needle),
        )
        .sort((a, b) => {
          const [x, y] = [sortValue(a, sort), sortValue(b, sort)];
          // Never used comes last in both directions.
          if (x === null || y === null) {
            if (x !== y) return x === null ? 1 : -1;
          } else if (x !== y) {
            return x < y ? -sign : sign;
          }
          return a.id < b.id ? -sign : sign;
        })
        .map((key) => key.id);
    }

    it('walks every sort, order, page size and search to each key exactly once, in order', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...API_KEY_SORTS),
          fc.constantFrom(...SORT_ORDERS),
          fc.integer({ min: 1, max: 7 }),
          fc.option(fc.constantFrom('a', 'B', 'ab', 'ci-', 'DEPLOY', 'cd-1', 'zz', '%', '_'), {
            nil: undefined,
          }),
          async (sort, order, limit, q) => {
            const walked = await walk(organizationId, { sort, order, limit, q });
            expect(walked.map((key) => key.id)).toEqual(expected(sort, order, q));
          },
        ),
        { numRuns: 40 },
      );
    });

    it('keeps the default newest-first order and its older cursor format', async () => {
      const first = await service.list(organizationId, { limit: 5 });
      expect(first.data.map((key) => key.id)).toEqual(expected('created_at', 'desc').slice(0, 5));
      const explicit = await service.list(organizationId, { limit: 5, sort: 'created_at', order: 'desc' });
      expect(explicit).toEqual(first);
      const decoded = Buffer.from(first.next_cursor ?? '', 'base64url').toString('utf8');
      expect(decoded).toMatch(/^\d{4}-.*Z\|[0-9a-f-]{36}$/);
    });

    it('treats % and _ in a search as themselves', async () => {
      expect(await walk(organizationId, { q: '%' })).toEqual([]);
      expect(await walk(organizationId, { q: '_' })).toEqual([]);
    });

    it('refuses a cursor from another sort or order, either way', async () => {
      const byName = await service.list(organizationId, { limit: 2, sort: 'name', order: 'asc' });
      const byDefault = await service.list(organizationId, { limit: 2 });
      const cursor = byName.next_cursor ?? '';
      await expectGatehouseError(
        service.list(organizationId, { cursor, sort: 'name', order: 'desc' }),
        'validation_failed',
      );
      await expectGatehouseError(
        service.list(organizationId, { cursor, sort: 'last_used_at' }),
        'validation_failed',
      );
      await expectGatehouseError(service.list(organizationId, { cursor }), 'validation_failed');
      await expectGatehouseError(
        service.list(organizationId, { cursor: byDefault.next_cursor ?? '', sort: 'name', order: 'asc' }),
        'validation_failed',
      );
      await expectGatehouseError(
        service.list(organizationId, { cursor: byDefault.next_cursor ?? '', order: 'asc' }),
        'validation_failed',
      );
    });

    it('never lists another organization’s keys, whatever the search', async () => {
      const other = await newOrganization();
      await createKey(other, { name: 'a', client_id: 'ci-other' });
      const walked = await walk(organizationId, { q: 'a', sort: 'name', order: 'asc', limit: 3 });
      expect(walked.map((key) => key.id)).toEqual(expected('name', 'asc', 'a'));
    });
  });

  describe('update', () => {
    let organizationId: string;

    beforeAll(async () => {
      organizationId = await newOrganization();
    });

    async function auditOf(id: string): Promise<{ action: string; actor: string; details: unknown }[]> {
      return dataSource.query(
        `SELECT action, actor, details FROM audit_events WHERE target_id = $1 AND action = 'api_key.updated'
          ORDER BY occurred_at`,
        [id],
      );
    }

    it('sets the fields given, keeps the others, and records what changed', async () => {
      const key = await createKey(organizationId, { name: 'Before' });
      const first = await service.update(actor(organizationId), key.id, {
        name: 'After',
        metadata: { team: 'platform' },
      });
      expect(first).toMatchObject({ name: 'After', description: null, metadata: { team: 'platform' } });
      const second = await service.update(actor(organizationId), key.id, { description: 'Deploys main' });
      expect(second).toMatchObject({
        name: 'After',
        description: 'Deploys main',
        metadata: { team: 'platform' },
      });
      expect(await service.get(organizationId, key.id)).toEqual(second);
      expect(await auditOf(key.id)).toEqual([
        {
          action: 'api_key.updated',
          actor: 'user:test',
          details: {
            name: { before: 'Before', after: 'After' },
            metadata: { before: {}, after: { team: 'platform' } },
          },
        },
        {
          action: 'api_key.updated',
          actor: 'user:test',
          details: { description: { before: null, after: 'Deploys main' } },
        },
      ]);
    });

    it('stores the description and metadata given at creation, shows them, and audits them', async () => {
      const created = await service.create(actor(organizationId), {
        name: 'Labelled',
        client_id: `client-${randomBytes(4).toString('hex')}`,
        permissions: ['write:findings'],
        description: 'Deploys main',
        metadata: { team: 'platform', ticket: 'OPS-1234' },
      });
      expect(created).toMatchObject({
        description: 'Deploys main',
        metadata: { team: 'platform', ticket: 'OPS-1234' },
      });
      const { api_key: _secret, ...shown } = created;
      expect(await service.get(organizationId, created.id)).toEqual(shown);
      const [audit] = await dataSource.query<{ details: Record<string, unknown> }[]>(
        `SELECT details FROM audit_events WHERE target_id = $1 AND action = 'api_key.created'`,
        [created.id],
      );
      expect(audit.details).toMatchObject({
        description: 'Deploys main',
        metadata: { team: 'platform', ticket: 'OPS-1234' },
      });

      // As PATCH does: an empty description is none; left out, none and {}.
      const blank = await createKey(organizationId);
      expect(blank).toMatchObject({ description: null, metadata: {} });
      const empty = await service.create(actor(organizationId), {
        name: 'Empty',
        client_id: `client-${randomBytes(4).toString('hex')}`,
        permissions: ['write:findings'],
        description: '',
      });
      expect(empty).toMatchObject({ description: null, metadata: {} });
    });

    it('clears the description with null or "" and the metadata with {}', async () => {
      const key = await createKey(organizationId);
      await service.update(actor(organizationId), key.id, { description: 'x', metadata: { a: 'b' } });
      expect(await service.update(actor(organizationId), key.id, { description: '' })).toMatchObject({
        description: null,
      });
      await service.update(actor(organizationId), key.id, { description: 'y' });
      expect(
        await service.update(actor(organizationId), key.id, { description: null, metadata: {} }),
      ).toMatchObject({ description: null, metadata: {} });
    });

    it('records nothing when nothing changes', async () => {
      const key = await createKey(organizationId, { name: 'Same' });
      await service.update(actor(organizationId), key.id, { metadata: { b: '2', a: '1' } });
      await service.update(actor(organizationId), key.id, { name: 'Same', metadata: { a: '1', b: '2' } });
      expect(await auditOf(key.id)).toHaveLength(1);
    });

    it('refuses a body that sets nothing', async () => {
      const key = await createKey(organizationId);
      await expectGatehouseError(service.update(actor(organizationId), key.id, {}), 'validation_failed');
      await expectGatehouseError(
        service.update(actor(organizationId), key.id, undefined),
        'validation_failed',
      );
    });

    it("answers another organization's key, a deleted key and a malformed id with not_found", async () => {
      const otherOrganizationId = await newOrganization();
      const other = await createKey(otherOrganizationId);
      await expectGatehouseError(service.update(actor(organizationId), other.id, { name: 'x' }), 'not_found');
      expect((await service.get(otherOrganizationId, other.id)).name).toBe('CI key');
      const deleted = await createKey(organizationId);
      await service.delete(actor(organizationId), deleted.id);
      await expectGatehouseError(
        service.update(actor(organizationId), deleted.id, { name: 'x' }),
        'not_found',
      );
      await expectGatehouseError(service.update(actor(organizationId), 'nope', { name: 'x' }), 'not_found');
    });

    it('refuses a caller lacking a permission of the key, and lets a key relabel itself', async () => {
      const strong = await createKey(organizationId, { permissions: [...PERMISSIONS] });
      const weak = await createKey(organizationId, { permissions: ['read:keys', 'write:keys'] });
      await expectGatehouseError(
        service.update(keyActor(organizationId, weak), strong.id, { name: 'mine' }),
        'forbidden',
      );
      await expectGatehouseError(
        service.update(actor(organizationId, ['read:keys', 'write:keys']), strong.id, { name: 'mine' }),
        'forbidden',
      );
      expect((await service.get(organizationId, strong.id)).name).toBe('CI key');
      expect(await service.update(keyActor(organizationId, weak), weak.id, { name: 'self' })).toMatchObject({
        name: 'self',
      });
    });

    it('relabels a revoked key', async () => {
      const key = await createKey(organizationId);
      await service.revoke(actor(organizationId), key.id);
      expect(await service.update(actor(organizationId), key.id, { name: 'Old CI' })).toMatchObject({
        name: 'Old CI',
        state: 'revoked',
      });
    });
  });

  describe('MeService', () => {
    it('describes a user from its token, with its organization and role', async () => {
      const organizationId = await newOrganization('me-user-org');
      const principal: Principal = {
        kind: 'user',
        userId: 'auth0|5f7c',
        role: 'member',
        organizationId,
        permissions: ['read:findings', 'read:keys', 'write:findings'],
        subject: 'auth0|5f7c',
        tokenId: 't',
        expiresAt: new Date('2031-01-01T00:00:00.000Z'),
      };
      expect(await me.describe(principal)).toEqual({
        kind: 'user',
        subject: 'user:auth0|5f7c',
        user_id: 'auth0|5f7c',
        organization: { id: organizationId, name: 'me-user-org', plan: 'pro' },
        role: 'member',
        permissions: ['read:keys', 'read:findings', 'write:findings'],
      });
    });

    it('describes a key without a role', async () => {
      const organizationId = await newOrganization('me-key-org');
      const key = await createKey(organizationId);
      const principal: Principal = {
        kind: 'api_key',
        apiKeyId: key.id,
        clientId: key.client_id,
        keyVersion: 1,
        organizationId,
        permissions: key.permissions,
        subject: key.client_id,
        tokenId: 't',
        expiresAt: new Date('2031-01-01T00:00:00.000Z'),
      };
      const described = await me.describe(principal);
      expect(described).toEqual({
        kind: 'api_key',
        subject: `api_key:${key.id}`,
        api_key_id: key.id,
        organization: { id: organizationId, name: 'me-key-org', plan: 'pro' },
        permissions: ['read:findings', 'write:findings'],
      });
      expect(described).not.toHaveProperty('role');
    });
  });
});
