import { isOrganizationName } from './organization';

describe('isOrganizationName', () => {
  it.each(['acme', 'a', 'acme-corp-2', 'a'.repeat(40)])('accepts %s', (name) => {
    expect(isOrganizationName(name)).toBe(true);
  });

  it.each(['', 'ACME', '-acme', 'acme-', 'a'.repeat(41), 'acme\u0000', 'ac me', 'acme\uD800', 42, null])(
    'refuses %p',
    (name) => {
      expect(isOrganizationName(name)).toBe(false);
    },
  );
});
