import { isPermission, missingPermissions, PERMISSIONS, type Permission } from './permissions';

describe('isPermission', () => {
  it.each(PERMISSIONS)('accepts %s from the catalog', (permission) => {
    expect(isPermission(permission)).toBe(true);
  });

  it('knows exactly the four catalog permissions', () => {
    expect([...PERMISSIONS].sort()).toEqual(['read:findings', 'read:keys', 'write:findings', 'write:keys']);
  });

  it.each(['admin', 'read:Keys', 'read:keys ', 'read:*', '', 'toString', '__proto__'])(
    'refuses the unknown string %p',
    (value) => {
      expect(isPermission(value)).toBe(false);
    },
  );

  it.each([undefined, null, 1, true, ['read:keys'], { permission: 'read:keys' }])(
    'refuses the non-string %p',
    (value) => {
      expect(isPermission(value)).toBe(false);
    },
  );

  it('narrows an unknown list to permissions', () => {
    const input: unknown[] = ['read:keys', 'delete:everything', 'write:findings'];
    const permissions: Permission[] = input.filter(isPermission);
    expect(permissions).toEqual(['read:keys', 'write:findings']);
  });
});

describe('missingPermissions', () => {
  it('returns nothing when every requested permission is held', () => {
    expect(
      missingPermissions(['read:keys', 'write:keys', 'read:findings'], ['read:keys', 'read:findings']),
    ).toEqual([]);
  });

  it('returns the requested permissions that are not held, in request order', () => {
    expect(missingPermissions(['read:findings'], ['write:keys', 'read:findings', 'read:keys'])).toEqual([
      'write:keys',
      'read:keys',
    ]);
  });

  it('returns every requested permission when nothing is held', () => {
    expect(missingPermissions([], ['read:keys', 'write:findings'])).toEqual(['read:keys', 'write:findings']);
  });

  it('returns nothing when nothing is requested', () => {
    expect(missingPermissions(['read:keys'], [])).toEqual([]);
  });

  it('does not treat a read permission as covering write, or the other way round', () => {
    expect(missingPermissions(['write:findings'], ['read:findings'])).toEqual(['read:findings']);
    expect(missingPermissions(['read:keys'], ['write:keys'])).toEqual(['write:keys']);
  });
});
