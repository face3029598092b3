import type { ApiKeyEntity } from '@gatehouse/persistence';
import { statusOf, toApiKeyView } from './api-key.view';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const SECRET_HASH = Buffer.from('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'hex');

function entity(overrides: Partial<ApiKeyEntity> = {}): ApiKeyEntity {
  return {
    id: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
    organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
    name: 'CI runner',
    clientId: 'ci-runner',
    permissions: ['read:findings', 'write:findings'],
    environment: 'live',
    keyHash: SECRET_HASH,
    keyPrefix: 'gth_live_',
    keyLast4: 'Zq9x',
    createdBy: 'admin@example.com',
    createdAt: new Date('2029-12-01T08:30:00.000Z'),
    expiresAt: null,
    revokedAt: null,
    deletedAt: null,
    lastUsedAt: null,
    lastUsedIp: null,
    ...overrides,
  };
}

describe('statusOf', () => {
  it('is active for a key that is neither revoked nor expired', () => {
    expect(statusOf(entity(), NOW)).toBe('active');
    expect(statusOf(entity({ expiresAt: new Date(NOW.getTime() + 1) }), NOW)).toBe('active');
  });

  it('is expired once the expiry is reached', () => {
    expect(statusOf(entity({ expiresAt: new Date(NOW.getTime()) }), NOW)).toBe('expired');
    expect(statusOf(entity({ expiresAt: new Date('2029-06-01T00:00:00Z') }), NOW)).toBe('expired');
  });

  it('is revoked for a revoked key, even one that has also expired', () => {
    expect(statusOf(entity({ revokedAt: new Date('2029-12-15T00:00:00Z') }), NOW)).toBe('revoked');
    expect(
      statusOf(
        entity({ revokedAt: new Date('2029-12-15T00:00:00Z'), expiresAt: new Date('2029-12-20T00:00:00Z') }),
        NOW,
      ),
    ).toBe('revoked');
  });
});

describe('toApiKeyView', () => {
  it('shows the key with ISO dates and a masked preview', () => {
    expect(toApiKeyView(entity(), NOW)).toEqual({
      id: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
      name: 'CI runner',
      client_id: 'ci-runner',
      preview: 'gth_live_…Zq9x',
      permissions: ['read:findings', 'write:findings'],
      environment: 'live',
      status: 'active',
      created_at: '2029-12-01T08:30:00.000Z',
      created_by: 'admin@example.com',
      expires_at: null,
      revoked_at: null,
      last_used_at: null,
      last_used_ip: null,
    });
  });

  it('never exposes the key hash, the organization or the deletion marker', () => {
    const view = toApiKeyView(entity({ deletedAt: new Date('2029-12-31T00:00:00Z') }), NOW);
    const serialized = JSON.stringify(view);
    expect(view).not.toHaveProperty('keyHash');
    expect(view).not.toHaveProperty('key_hash');
    expect(serialized).not.toContain(SECRET_HASH.toString('hex'));
    expect(serialized).not.toContain(SECRET_HASH.toString('base64'));
    expect(serialized).not.toContain('"type":"Buffer"');
    expect(view).not.toHaveProperty('organizationId');
    expect(view).not.toHaveProperty('deletedAt');
  });

  it('builds the preview as prefix…last4 for test keys too', () => {
    const view = toApiKeyView(entity({ environment: 'test', keyPrefix: 'gth_test_', keyLast4: '0aB1' }), NOW);
    expect(view.preview).toBe('gth_test_…0aB1');
    expect(view.environment).toBe('test');
  });

  it('formats the optional dates and the last use when present', () => {
    const view = toApiKeyView(
      entity({
        expiresAt: new Date('2030-06-01T00:00:00.000Z'),
        revokedAt: new Date('2029-12-24T10:00:00.000Z'),
        lastUsedAt: new Date('2029-12-24T09:59:59.123Z'),
        lastUsedIp: '203.0.113.7',
      }),
      NOW,
    );
    expect(view).toMatchObject({
      status: 'revoked',
      expires_at: '2030-06-01T00:00:00.000Z',
      revoked_at: '2029-12-24T10:00:00.000Z',
      last_used_at: '2029-12-24T09:59:59.123Z',
      last_used_ip: '203.0.113.7',
    });
  });

  it('reports the status as of the given time', () => {
    const key = entity({ expiresAt: new Date('2030-01-01T12:00:01.000Z') });
    expect(toApiKeyView(key, NOW).status).toBe('active');
    expect(toApiKeyView(key, new Date('2030-01-01T12:00:01.000Z')).status).toBe('expired');
  });
});
