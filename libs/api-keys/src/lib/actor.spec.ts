import type { KeyPrincipal, UserPrincipal } from '@gatehouse/contracts';
import { ROLE_PERMISSIONS } from '@gatehouse/contracts';
import { actorOf } from './actor';

const ORG_ID = '0f5d3c4e-1a2b-4c3d-8e9f-001122334455';
const KEY_ID = '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff';
const EXPIRES = new Date('2030-01-01T12:30:00.000Z');

const keyPrincipal: KeyPrincipal = {
  kind: 'api_key',
  organizationId: ORG_ID,
  permissions: ['read:keys', 'write:keys'],
  subject: 'ci-runner',
  tokenId: 'jti-1',
  expiresAt: EXPIRES,
  apiKeyId: KEY_ID,
  clientId: 'ci-runner',
  keyVersion: 3,
};

const userPrincipal: UserPrincipal = {
  kind: 'user',
  organizationId: ORG_ID,
  permissions: [...ROLE_PERMISSIONS.admin],
  subject: 'idp|42',
  tokenId: 'jti-2',
  expiresAt: EXPIRES,
  userId: 'idp|42',
  role: 'admin',
};

describe('actorOf', () => {
  it('names a key principal api_key:<id> and keeps its organization, permissions, key and key version', () => {
    expect(actorOf(keyPrincipal, { ip: '203.0.113.7', id: 'req-1' })).toEqual({
      organizationId: ORG_ID,
      permissions: ['read:keys', 'write:keys'],
      type: 'api_key',
      subject: `api_key:${KEY_ID}`,
      apiKeyId: KEY_ID,
      keyVersion: 3,
      ip: '203.0.113.7',
      requestId: 'req-1',
    });
  });

  it('names a user principal user:<id>', () => {
    expect(actorOf(userPrincipal, { ip: '198.51.100.1', id: 'req-2' })).toEqual({
      organizationId: ORG_ID,
      permissions: ['read:keys', 'write:keys', 'read:findings', 'write:findings'],
      type: 'user',
      subject: 'user:idp|42',
      ip: '198.51.100.1',
      requestId: 'req-2',
    });
  });

  it('records a missing address and request id as null', () => {
    expect(actorOf(keyPrincipal)).toMatchObject({ ip: null, requestId: null });
    expect(actorOf(keyPrincipal, {})).toMatchObject({ ip: null, requestId: null });
  });
});
