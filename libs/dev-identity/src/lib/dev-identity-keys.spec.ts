import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refuseInProduction, DevIdentityInProductionError } from './dev-identity.errors';
import { loadOrCreateDevIdentityKeys } from './dev-identity-keys';

describe("the development identity provider's keys", () => {
  it('are made once, owner-only, and the same after a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dev-keys-'));
    try {
      const path = join(dir, 'dev-identity', 'keys.json');
      const first = loadOrCreateDevIdentityKeys(path);
      expect(first.signingKey).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', d: expect.any(String) });
      expect(first.cookieKeys[0]).toMatch(/^[\w-]{43}$/);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(loadOrCreateDevIdentityKeys(path)).toEqual(first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('refuseInProduction', () => {
  it('throws a typed error naming NODE_ENV with NODE_ENV=production', () => {
    expect(() => refuseInProduction({ NODE_ENV: 'production' })).toThrow(DevIdentityInProductionError);
    expect(() => refuseInProduction({ NODE_ENV: 'production' })).toThrow(/NODE_ENV=production/);
  });

  it.each(['development', 'test', undefined])('lets NODE_ENV=%s through', (value) => {
    expect(() => refuseInProduction({ NODE_ENV: value })).not.toThrow();
  });
});
