import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevUserExistsError } from './dev-identity.errors';
import { FileDevUserStore, hashPassword, MemoryDevUserStore, verifyPassword } from './dev-user-store';

describe('development users', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dev-users-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('hashes passwords with a salt, and verifies only the right one', async () => {
    const first = await hashPassword('correct horse');
    const second = await hashPassword('correct horse');
    expect(first).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(first).not.toBe(second);
    expect(await verifyPassword('correct horse', first)).toBe(true);
    expect(await verifyPassword('correct horse!', first)).toBe(false);
    expect(await verifyPassword('correct horse', 'plain-text')).toBe(false);
  });

  it('creates a user with a random password shown once, named <role>@<org> unless named', async () => {
    const users = new MemoryDevUserStore();
    const owner = await users.create({ org: 'acme', role: 'owner' });
    const viewer = await users.create({ org: 'acme', role: 'viewer', username: 'vera@acme' });
    expect(owner).toMatchObject({ username: 'owner@acme', org: 'acme', role: 'owner' });
    expect(owner.password).toMatch(/^[\w-]{32}$/);
    expect(viewer.username).toBe('vera@acme');
    expect(viewer.password).not.toBe(owner.password);
    expect(await users.verify('owner@acme', owner.password)).toMatchObject({ id: owner.id, role: 'owner' });
    expect(await users.verify('owner@acme', viewer.password)).toBeUndefined();
    expect(await users.verify('nobody@acme', owner.password)).toBeUndefined();
  });

  it.each([
    [{ org: 'Acme!', role: 'owner' }, /not an organization name/],
    [{ org: 'acme', role: 'superuser' }, /role must be one of owner, admin, member, viewer/],
    [{ org: 'acme', role: 'viewer', username: 'Has Spaces' }, /username must be/],
  ])('refuses %j with a message', async (request, message) => {
    await expect(new MemoryDevUserStore().create(request)).rejects.toThrow(message);
  });

  it('refuses a username that exists', async () => {
    const users = new MemoryDevUserStore();
    await users.create({ org: 'acme', role: 'owner' });
    await expect(users.create({ org: 'acme', role: 'owner' })).rejects.toThrow(DevUserExistsError);
  });

  it('keeps users in an owner-only file, hashes only, read back by the next process', async () => {
    const path = join(dir, 'dev-identity', 'users.json');
    const created = await new FileDevUserStore(path).create({ org: 'acme', role: 'owner' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'dev-identity')).mode & 0o777).toBe(0o700);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(created.password);
    expect(readdirSync(join(dir, 'dev-identity'))).toEqual(['users.json']);

    const reopened = new FileDevUserStore(path);
    expect(await reopened.verify('owner@acme', created.password)).toMatchObject({ id: created.id });
  });

  it('refuses a file that is not its own', () => {
    const path = join(dir, 'package.json');
    writeFileSync(path, '{"name": "x"}');
    expect(() => new FileDevUserStore(path)).toThrow(/not a development users file/);
  });
});
