import type { KeyPrincipal } from '@gatehouse/contracts';
import { VerifiedTokenCache } from './verified-token-cache';

const EXPIRES_AT = Date.parse('2030-01-01T12:30:00.000Z');

const PRINCIPAL: KeyPrincipal = {
  kind: 'api_key',
  organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
  permissions: ['write:findings'],
  subject: 'ci-runner',
  tokenId: 'jti',
  expiresAt: new Date(EXPIRES_AT),
  apiKeyId: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
  clientId: 'ci-runner',
  keyVersion: 1,
};

describe('VerifiedTokenCache', () => {
  let now = EXPIRES_AT - 60_000;
  const cache = (size?: number): VerifiedTokenCache => new VerifiedTokenCache(5, () => now, size);

  beforeEach(() => {
    now = EXPIRES_AT - 60_000;
  });

  it('finds a verified token by its exact text only', () => {
    const verified = cache();
    verified.set('header.payload.signature', PRINCIPAL);

    expect(verified.get('header.payload.signature')).toEqual(PRINCIPAL);
    expect(verified.get('header.payload.signaturf')).toBeUndefined();
    expect(verified.get('header.payload.signature ')).toBeUndefined();
  });

  it('keeps a token until it expires, within the clock tolerance, then forgets it', () => {
    const verified = cache();
    verified.set('t', PRINCIPAL);

    now = EXPIRES_AT + 4_999;
    expect(verified.get('t')).toBeDefined();
    now = EXPIRES_AT + 5_000;
    expect(verified.get('t')).toBeUndefined();
    // Forgotten, not merely hidden: a clock going back does not bring it back.
    now = EXPIRES_AT - 60_000;
    expect(verified.get('t')).toBeUndefined();
  });

  it('hands out a frozen copy that no request can alter for the next', () => {
    const verified = cache();
    const principal = { ...PRINCIPAL };
    verified.set('t', principal);
    principal.permissions = ['read:findings'];

    const found = verified.get('t');
    expect(found?.permissions).toEqual(['write:findings']);
    expect(Object.isFrozen(found)).toBe(true);
  });

  it('holds at most its size, dropping the least recently used', () => {
    const verified = cache(2);
    verified.set('a', PRINCIPAL);
    verified.set('b', PRINCIPAL);
    verified.get('a');
    verified.set('c', PRINCIPAL);

    expect(verified.get('a')).toBeDefined();
    expect(verified.get('b')).toBeUndefined();
    expect(verified.get('c')).toBeDefined();
  });
});
