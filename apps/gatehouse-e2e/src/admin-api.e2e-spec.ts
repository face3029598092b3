import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { request, startSuite, type BootstrapOutput, type RunningSuite } from '@gatehouse/testing';

interface KeyView {
  id: string;
  client_id: string;
  status: string;
  permissions: string[];
  revoked_at: string | null;
  created_at: string;
  [field: string]: unknown;
}

interface KeyPage {
  data: KeyView[];
  next_cursor: string | null;
}

/**
 * admin-api on its own, over HTTP: one organization never sees or touches another's keys, a credential cannot
 * hand out permissions it lacks, read-only credentials stay read-only, and list, revoke and delete keep their
 * documented contracts.
 */
describe('admin-api directly', () => {
  let suite: RunningSuite;
  let admin: string;
  let orgA: BootstrapOutput;
  let orgB: BootstrapOutput;
  let paging: BootstrapOutput;
  let tokenA: string;
  let tokenB: string;
  let pagingToken: string;

  const authenticate = (apiKey: string, clientId: string) =>
    request<Record<string, unknown>>(`${suite.auth.url}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey },
      body: { client_id: clientId },
    });

  const tokenFor = async (apiKey: string, clientId: string): Promise<string> => {
    const response = await authenticate(apiKey, clientId);
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const create = (token: string, body: Record<string, unknown>) =>
    request<KeyView & { api_key: string }>(`${admin}/api/v1/api-keys`, {
      method: 'POST',
      headers: bearer(token),
      body,
    });

  const createKey = async (token: string, clientId: string, permissions: string[]) => {
    const response = await create(token, { name: clientId, client_id: clientId, permissions });
    expect(response.status).toBe(201);
    return response.body;
  };

  const getKey = (token: string, id: string) =>
    request<KeyView>(`${admin}/api/v1/api-keys/${id}`, { headers: bearer(token) });

  const revokeKey = (token: string, id: string) =>
    request<KeyView>(`${admin}/api/v1/api-keys/${id}/revoke`, { method: 'POST', headers: bearer(token) });

  const deleteKey = (token: string, id: string) =>
    request(`${admin}/api/v1/api-keys/${id}`, { method: 'DELETE', headers: bearer(token) });

  const listPage = (token: string, query: Record<string, string> = {}) =>
    request<KeyPage>(`${admin}/api/v1/api-keys?${new URLSearchParams(query).toString()}`, {
      headers: bearer(token),
    });

  /** Every page of a listing, following next_cursor until it is null. */
  const listAll = async (token: string, query: Record<string, string> = {}): Promise<KeyPage[]> => {
    const pages: KeyPage[] = [];
    let cursor: string | null = null;
    do {
      const response = await listPage(token, cursor ? { ...query, cursor } : query);
      expect(response.status).toBe(200);
      pages.push(response.body);
      cursor = response.body.next_cursor;
      expect(pages.length).toBeLessThan(100);
    } while (cursor);
    return pages;
  };

  const expectError = (response: { status: number; body: unknown }, status: number, code: string) => {
    expect(response.status).toBe(status);
    expect(response.body).toEqual(
      expect.objectContaining({ error: code, message: expect.any(String), request_id: expect.any(String) }),
    );
  };

  beforeAll(async () => {
    suite = await startSuite();
    admin = suite.admin.url;
    [orgA, orgB, paging] = await Promise.all([
      suite.bootstrap('org-a'),
      suite.bootstrap('org-b'),
      suite.bootstrap('paging'),
    ]);
    [tokenA, tokenB, pagingToken] = await Promise.all([
      tokenFor(orgA.api_key, orgA.client_id),
      tokenFor(orgB.api_key, orgB.client_id),
      tokenFor(paging.api_key, paging.client_id),
    ]);
  });

  afterAll(async () => {
    await suite?.stop();
  });

  describe('cross-organization isolation', () => {
    it('gives another organization’s owner 404 on every route for A’s keys, and leaves them working', async () => {
      const keyA = await createKey(tokenA, 'a-runner', ['write:findings']);
      const unknownId = randomUUID();

      for (const id of [keyA.id, orgA.api_key_id]) {
        const probes = [await getKey(tokenB, id), await revokeKey(tokenB, id), await deleteKey(tokenB, id)];
        const controls = [
          await getKey(tokenB, unknownId),
          await revokeKey(tokenB, unknownId),
          await deleteKey(tokenB, unknownId),
        ];
        probes.forEach((probe, index) => {
          expectError(probe, 404, 'not_found');
          // The same answer as for a key that does not exist: no existence oracle across organizations.
          expect(probe.body['message']).toBe(controls[index].body['message']);
        });
      }

      // B's listings, in every status and page size, show B's keys only.
      const queries: Record<string, string>[] = [
        {},
        { limit: '1' },
        { status: 'active' },
        { status: 'revoked' },
        { status: 'expired' },
      ];
      for (const query of queries) {
        const keys = (await listAll(tokenB, query)).flatMap((page) => page.data);
        expect(keys.map((key) => key.id)).not.toContain(keyA.id);
        expect(keys.map((key) => key.id)).not.toContain(orgA.api_key_id);
        for (const key of keys) expect(key.client_id).not.toMatch(/^(a-runner|org-a-owner)$/);
      }
      const bKeys = (await listAll(tokenB)).flatMap((page) => page.data);
      expect(bKeys.map((key) => key.client_id)).toEqual([orgB.client_id]);

      // A's key is untouched: still active for A, and still exchanges for a token of A's organization.
      const seenByA = await getKey(tokenA, keyA.id);
      expect(seenByA.status).toBe(200);
      expect(seenByA.body).toMatchObject({ status: 'active', revoked_at: null });
      const token = await tokenFor(keyA.api_key, 'a-runner');
      expect(decodeJwt(token)).toMatchObject({ org: orgA.organization.id, api_key_id: keyA.id });
      expect((await getKey(tokenA, orgA.api_key_id)).body).toMatchObject({ status: 'active' });
      expect(await tokenFor(orgA.api_key, orgA.client_id)).toEqual(expect.any(String));
    });

    it('scopes client_id to the organization, and keeps B’s keys out of A’s view', async () => {
      const keyA = await createKey(tokenA, 'shared-name', ['write:findings']);
      const keyB = await createKey(tokenB, 'shared-name', ['write:findings']);
      expect(keyB.id).not.toBe(keyA.id);

      const aIds = (await listAll(tokenA)).flatMap((page) => page.data).map((key) => key.id);
      expect(aIds).toContain(keyA.id);
      expect(aIds).not.toContain(keyB.id);
      expectError(await getKey(tokenA, keyB.id), 404, 'not_found');

      const tokenOfB = await tokenFor(keyB.api_key, 'shared-name');
      expect(decodeJwt(tokenOfB)).toMatchObject({ org: orgB.organization.id, api_key_id: keyB.id });
    });
  });

  describe('permissions', () => {
    it('refuses to let a write:keys credential hand out permissions it lacks (escalation)', async () => {
      const manager = await createKey(tokenA, 'key-manager', ['read:keys', 'write:keys']);
      const managerToken = await tokenFor(manager.api_key, 'key-manager');

      for (const permissions of [['read:findings'], ['read:keys', 'read:findings'], ['write:findings']]) {
        const refused = await create(managerToken, {
          name: 'escalated',
          client_id: 'escalated',
          permissions,
        });
        expectError(refused, 403, 'forbidden');
        expect(refused.body['message']).toContain(permissions[permissions.length - 1]);
      }
      const listed = (await listAll(tokenA)).flatMap((page) => page.data);
      expect(listed.map((key) => key.client_id)).not.toContain('escalated');

      // Handing out a subset of what it holds is allowed.
      const subset = await create(managerToken, {
        name: 'subset',
        client_id: 'subset',
        permissions: ['read:keys'],
      });
      expect(subset.status).toBe(201);
      expect(subset.body.permissions).toEqual(['read:keys']);
      expect(subset.body['created_by']).toBe(`api_key:${manager.id}`);
    });

    it('lets a read:keys-only credential read, and nothing else', async () => {
      const reader = await createKey(tokenA, 'key-reader', ['read:keys']);
      const target = await createKey(tokenA, 'reader-target', ['write:findings']);
      const readerToken = await tokenFor(reader.api_key, 'key-reader');

      expectError(
        await create(readerToken, { name: 'n', client_id: 'by-reader', permissions: ['read:keys'] }),
        403,
        'forbidden',
      );
      expectError(await revokeKey(readerToken, target.id), 403, 'forbidden');
      expectError(await deleteKey(readerToken, target.id), 403, 'forbidden');

      const listed = await listPage(readerToken);
      expect(listed.status).toBe(200);
      expect(listed.body.data.map((key) => key.id)).toContain(target.id);
      const fetched = await getKey(readerToken, target.id);
      expect(fetched.status).toBe(200);
      expect(fetched.body).toMatchObject({ id: target.id, status: 'active', revoked_at: null });
    });
  });

  describe('listing', () => {
    it('visits every key exactly once across pages of `limit`, newest first', async () => {
      // Created concurrently, so several share a created_at millisecond and the id decides their order.
      await Promise.all(
        Array.from({ length: 6 }, (_, index) => createKey(pagingToken, `page-${index}`, ['read:findings'])),
      );
      const everything = await listPage(pagingToken, { limit: '100' });
      expect(everything.status).toBe(200);
      expect(everything.body.next_cursor).toBeNull();
      const allIds = everything.body.data.map((key) => key.id);
      expect(allIds).toHaveLength(7);

      const descending = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0);
      const ordered = [...everything.body.data].sort(
        (a, b) => descending(a.created_at, b.created_at) || descending(a.id, b.id),
      );
      expect(allIds).toEqual(ordered.map((key) => key.id));

      for (const [limit, sizes] of [
        [1, [1, 1, 1, 1, 1, 1, 1]],
        [3, [3, 3, 1]],
        [7, [7]],
        [2, [2, 2, 2, 1]],
      ] as const) {
        const pages = await listAll(pagingToken, { limit: String(limit) });
        expect(pages.map((page) => page.data.length)).toEqual(sizes);
        expect(pages[pages.length - 1].next_cursor).toBeNull();
        const visited = pages.flatMap((page) => page.data.map((key) => key.id));
        expect(visited).toEqual(allIds);
      }
    });

    it('filters by status=revoked, and status=active leaves revoked keys out', async () => {
      const first = await createKey(pagingToken, 'to-revoke-1', ['read:findings']);
      const second = await createKey(pagingToken, 'to-revoke-2', ['read:findings']);
      expect((await revokeKey(pagingToken, first.id)).status).toBe(200);
      expect((await revokeKey(pagingToken, second.id)).status).toBe(200);

      const revoked = (await listAll(pagingToken, { status: 'revoked', limit: '1' })).flatMap(
        (page) => page.data,
      );
      expect(revoked.map((key) => key.id).sort()).toEqual([first.id, second.id].sort());
      for (const key of revoked) {
        expect(key.status).toBe('revoked');
        expect(key.revoked_at).toEqual(expect.any(String));
      }

      const active = (await listAll(pagingToken, { status: 'active' })).flatMap((page) => page.data);
      expect(active.length).toBeGreaterThan(0);
      for (const key of active) expect(key.status).toBe('active');
      expect(active.map((key) => key.id)).not.toContain(first.id);
      expect(active.map((key) => key.id)).not.toContain(second.id);

      const all = (await listAll(pagingToken)).flatMap((page) => page.data);
      expect(all).toHaveLength(active.length + revoked.length);
    });
  });

  describe('revoke and delete', () => {
    it('answers DELETE with 204 and no body; the key then answers 404 everywhere', async () => {
      const key = await createKey(tokenA, 'to-delete', ['write:findings']);
      const deleted = await deleteKey(tokenA, key.id);
      expect(deleted.status).toBe(204);
      expect(deleted.body).toBeUndefined();
      expect(deleted.headers.get('content-type')).toBeNull();

      expectError(await getKey(tokenA, key.id), 404, 'not_found');
      expectError(await revokeKey(tokenA, key.id), 404, 'not_found');
      expectError(await deleteKey(tokenA, key.id), 404, 'not_found');
      for (const status of [undefined, 'revoked', 'active']) {
        const keys = (await listAll(tokenA, status ? { status } : {})).flatMap((page) => page.data);
        expect(keys.map((listed) => listed.id)).not.toContain(key.id);
      }
      const again = await authenticate(key.api_key, 'to-delete');
      expectError(again, 404, 'api_key_not_found');

      // The client_id is free again once its key is deleted.
      const replacement = await createKey(tokenA, 'to-delete', ['write:findings']);
      expect(replacement.id).not.toBe(key.id);
    });

    it('answers a second revoke with 200 and the same revoked key', async () => {
      const key = await createKey(tokenA, 'revoke-twice', ['write:findings']);
      const first = await revokeKey(tokenA, key.id);
      const second = await revokeKey(tokenA, key.id);
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(first.body).toMatchObject({ id: key.id, status: 'revoked', revoked_at: expect.any(String) });
      expect(second.body).toMatchObject({ id: key.id, status: 'revoked', revoked_at: first.body.revoked_at });
      expect(second.body).not.toHaveProperty('api_key');
      expect((await getKey(tokenA, key.id)).body).toMatchObject({
        status: 'revoked',
        revoked_at: first.body.revoked_at,
      });
      expectError(await authenticate(key.api_key, 'revoke-twice'), 401, 'api_key_revoked');
    });
  });
});
