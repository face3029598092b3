import { rateLimitOverrideOf, type ApiKeyEntity } from '@gatehouse/persistence';
import {
  EXPIRING_SOON_MS,
  expiryStatusOf,
  isRotating,
  stateOf,
  statusOf,
  toApiKeyView,
} from './api-key.view';

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
    keyVersion: 1,
    previousKeyHash: null,
    previousKeyLast4: null,
    previousRetiresAt: null,
    rotatedAt: null,
    rateLimitPerMinute: null,
    rateLimitBurst: null,
    disabledAt: null,
    allowedIps: [],
    description: null,
    metadata: {},
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

const PREVIOUS_HASH = Buffer.alloc(32, 0x5a);
const ROTATED_AT = new Date('2030-01-01T11:00:00.000Z');

/** Version 2, rotated an hour ago, the previous secret working until `retiresAt`. */
function rotating(retiresAt: Date, overrides: Partial<ApiKeyEntity> = {}): ApiKeyEntity {
  return entity({
    keyVersion: 2,
    keyLast4: 'n3w4',
    previousKeyHash: PREVIOUS_HASH,
    previousKeyLast4: 'Zq9x',
    previousRetiresAt: retiresAt,
    rotatedAt: ROTATED_AT,
    ...overrides,
  });
}

describe('isRotating and stateOf', () => {
  const later = new Date(NOW.getTime() + 3_600_000);

  it('is rotating while the previous secret has not retired yet', () => {
    expect(isRotating(rotating(later), NOW)).toBe(true);
    expect(isRotating(rotating(new Date(NOW.getTime() + 1)), NOW)).toBe(true);
    expect(stateOf(rotating(later), NOW)).toBe('rotating');
    expect(statusOf(rotating(later), NOW)).toBe('rotating');
  });

  it('is no longer rotating from the retirement on, finished or not', () => {
    expect(isRotating(rotating(NOW), NOW)).toBe(false);
    expect(stateOf(rotating(NOW), NOW)).toBe('active');
    // Finished: the previous hash is erased.
    expect(isRotating(rotating(later, { previousKeyHash: null, previousKeyLast4: null }), NOW)).toBe(false);
    expect(isRotating(entity(), NOW)).toBe(false);
  });

  it('puts revoked and expired before disabled, and disabled before rotating', () => {
    const disabledAt = new Date('2029-12-31T00:00:00.000Z');
    const disabled = rotating(later, { disabledAt });
    expect(stateOf(disabled, NOW)).toBe('disabled');
    expect(statusOf(disabled, NOW)).toBe('disabled');
    expect(statusOf(entity({ disabledAt }), NOW)).toBe('disabled');
    expect(statusOf(entity({ disabledAt, expiresAt: NOW }), NOW)).toBe('expired');
    expect(statusOf(entity({ disabledAt, revokedAt: ROTATED_AT }), NOW)).toBe('revoked');
    expect(stateOf(entity({ disabledAt, revokedAt: ROTATED_AT }), NOW)).toBe('revoked');
  });

  it('puts revoked before rotating and expired before rotating in the one-word status', () => {
    const revoked = rotating(later, { revokedAt: ROTATED_AT });
    expect(stateOf(revoked, NOW)).toBe('revoked');
    expect(statusOf(revoked, NOW)).toBe('revoked');
    const expired = rotating(later, { expiresAt: NOW });
    expect(statusOf(expired, NOW)).toBe('expired');
    expect(stateOf(expired, NOW)).toBe('rotating');
  });
});

describe('expiryStatusOf', () => {
  it('is active for a key without expiry or expiring later than seven days', () => {
    expect(expiryStatusOf(entity(), NOW)).toBe('active');
    expect(expiryStatusOf(entity({ expiresAt: new Date(NOW.getTime() + EXPIRING_SOON_MS + 1) }), NOW)).toBe(
      'active',
    );
  });

  it('is expiring_soon within seven days, boundary included', () => {
    expect(EXPIRING_SOON_MS).toBe(7 * 86_400_000);
    expect(expiryStatusOf(entity({ expiresAt: new Date(NOW.getTime() + EXPIRING_SOON_MS) }), NOW)).toBe(
      'expiring_soon',
    );
    expect(expiryStatusOf(entity({ expiresAt: new Date(NOW.getTime() + 1) }), NOW)).toBe('expiring_soon');
  });

  it('is expired from the expiry on, whether or not the key is revoked', () => {
    expect(expiryStatusOf(entity({ expiresAt: NOW }), NOW)).toBe('expired');
    expect(expiryStatusOf(entity({ expiresAt: NOW, revokedAt: ROTATED_AT }), NOW)).toBe('expired');
  });
});

describe('toApiKeyView', () => {
  it('shows the key with ISO dates and a masked preview', () => {
    expect(toApiKeyView(entity(), NOW, 'pro')).toEqual({
      id: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
      name: 'CI runner',
      client_id: 'ci-runner',
      preview: 'gth_live_…Zq9x',
      permissions: ['read:findings', 'write:findings'],
      environment: 'live',
      status: 'active',
      state: 'active',
      expiry_status: 'active',
      key_version: 1,
      rotation: null,
      created_at: '2029-12-01T08:30:00.000Z',
      created_by: 'admin@example.com',
      expires_at: null,
      revoked_at: null,
      enabled: true,
      disabled_at: null,
      allowed_ips: [],
      last_used_at: null,
      last_used_ip: null,
      rate_limit: { requests_per_minute: 300, burst: 50, source: 'plan' },
      description: null,
      metadata: {},
    });
  });

  it('shows the description and a copy of the metadata', () => {
    const metadata = { team: 'platform' };
    const view = toApiKeyView(entity({ description: 'Deploys main', metadata }), NOW, 'pro');
    expect(view).toMatchObject({ description: 'Deploys main', metadata: { team: 'platform' } });
    expect(view.metadata).not.toBe(metadata);
  });

  it('shows a disabled key as disabled, with its allowlist', () => {
    const view = toApiKeyView(
      entity({ disabledAt: new Date('2029-12-31T00:00:00.000Z'), allowedIps: ['10.9.9.0/24', '::1/128'] }),
      NOW,
      'pro',
    );
    expect(view).toMatchObject({
      status: 'disabled',
      state: 'disabled',
      enabled: false,
      disabled_at: '2029-12-31T00:00:00.000Z',
      allowed_ips: ['10.9.9.0/24', '::1/128'],
    });
  });

  it('never exposes the key hash, the organization or the deletion marker', () => {
    const view = toApiKeyView(entity({ deletedAt: new Date('2029-12-31T00:00:00Z') }), NOW, 'pro');
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
    const view = toApiKeyView(
      entity({ environment: 'test', keyPrefix: 'gth_test_', keyLast4: '0aB1' }),
      NOW,
      'pro',
    );
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
      'pro',
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
    expect(toApiKeyView(key, NOW, 'pro').status).toBe('active');
    expect(toApiKeyView(key, new Date('2030-01-01T12:00:01.000Z'), 'pro').status).toBe('expired');
  });

  it('shows a running rotation with both previews, never either hash', () => {
    const retiresAt = new Date('2030-01-02T11:00:00.000Z');
    const view = toApiKeyView(rotating(retiresAt), NOW, 'pro');

    expect(view).toMatchObject({
      preview: 'gth_live_…n3w4',
      status: 'rotating',
      state: 'rotating',
      key_version: 2,
      rotation: {
        previous_preview: 'gth_live_…Zq9x',
        previous_retires_at: '2030-01-02T11:00:00.000Z',
        rotated_at: '2030-01-01T11:00:00.000Z',
      },
    });
    const serialized = JSON.stringify(view);
    expect(serialized).not.toContain(PREVIOUS_HASH.toString('hex'));
    expect(serialized).not.toContain(PREVIOUS_HASH.toString('base64'));
    expect(view).not.toHaveProperty('previousKeyHash');
  });

  it('drops the rotation once it has ended, keeping the version', () => {
    const view = toApiKeyView(rotating(NOW), NOW, 'pro');
    expect(view).toMatchObject({ state: 'active', status: 'active', key_version: 2, rotation: null });
  });

  it('shows no rotation on a revoked key', () => {
    const view = toApiKeyView(
      rotating(new Date('2030-01-02T11:00:00.000Z'), { revokedAt: ROTATED_AT }),
      NOW,
      'pro',
    );
    expect(view).toMatchObject({ state: 'revoked', rotation: null });
  });

  it('reports expiry_status next to the status', () => {
    const soon = entity({ expiresAt: new Date(NOW.getTime() + 86_400_000) });
    expect(toApiKeyView(soon, NOW, 'pro')).toMatchObject({
      status: 'active',
      expiry_status: 'expiring_soon',
    });
    const gone = entity({ expiresAt: NOW });
    expect(toApiKeyView(gone, NOW, 'pro')).toMatchObject({ status: 'expired', expiry_status: 'expired' });
  });
});

describe('rate limits in the view', () => {
  it.each([
    ['starter', 60, 10],
    ['pro', 300, 50],
    ['enterprise', 1000, 100],
  ] as const)("shows the %s plan's limit for a key without an override", (plan, requestsPerMinute, burst) => {
    expect(toApiKeyView(entity(), NOW, plan).rate_limit).toEqual({
      requests_per_minute: requestsPerMinute,
      burst,
      source: 'plan',
    });
  });

  it("shows the key's override instead of the plan's, whatever the plan", () => {
    const overridden = entity({ rateLimitPerMinute: 5, rateLimitBurst: 0 });
    expect(toApiKeyView(overridden, NOW, 'enterprise').rate_limit).toEqual({
      requests_per_minute: 5,
      burst: 0,
      source: 'override',
    });
    expect(rateLimitOverrideOf(overridden)).toEqual({ requests_per_minute: 5, burst: 0 });
  });

  it('treats a half-set override (which the schema refuses) as none', () => {
    expect(rateLimitOverrideOf(entity({ rateLimitPerMinute: 5 }))).toBeNull();
    expect(rateLimitOverrideOf(entity({ rateLimitBurst: 5 }))).toBeNull();
    expect(toApiKeyView(entity({ rateLimitBurst: 5 }), NOW, 'starter').rate_limit).toMatchObject({
      source: 'plan',
    });
  });
});
