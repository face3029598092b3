import type { KeyRevokedEvent, RateLimitChangedEvent, SecretRetiredEvent } from '@gatehouse/contracts';
import { parseKeyEvent } from './key-event-bus';

const VALID: KeyRevokedEvent = {
  type: 'key_revoked',
  apiKeyId: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
  organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
  revokedAt: '2030-01-01T12:00:00.000Z',
  reason: 'revoked',
};

function message(overrides: Record<string, unknown>): string {
  return JSON.stringify({ ...VALID, ...overrides });
}

describe('parseKeyEvent', () => {
  it('accepts a valid event', () => {
    expect(parseKeyEvent(JSON.stringify(VALID))).toEqual(VALID);
  });

  it('accepts the deleted reason and an upper-case uuid', () => {
    const id = VALID.apiKeyId.toUpperCase();
    expect(parseKeyEvent(message({ reason: 'deleted', apiKeyId: id }))).toEqual({
      ...VALID,
      reason: 'deleted',
      apiKeyId: id,
    });
  });

  it('drops fields that are not part of the event', () => {
    const parsed = parseKeyEvent(message({ extra: 'x' }));
    expect(parsed).toEqual(VALID);
    expect(parsed).not.toHaveProperty('extra');
  });

  it.each(['', 'not json', '{"type":"key_revoked"', 'undefined'])('rejects malformed JSON %p', (text) => {
    expect(parseKeyEvent(text)).toBeNull();
  });

  it.each(['null', '42', '"key_revoked"', 'true'])('rejects the non-object JSON %s', (text) => {
    expect(parseKeyEvent(text)).toBeNull();
  });

  it('rejects an array even if it looks like an event', () => {
    expect(parseKeyEvent(JSON.stringify([VALID]))).toBeNull();
  });

  it.each([{ type: 'key_restored' }, { type: undefined }, { type: 'KEY_REVOKED' }])(
    'rejects a wrong type %p',
    (overrides) => {
      expect(parseKeyEvent(message(overrides))).toBeNull();
    },
  );

  it.each([
    'not-a-uuid',
    '7b0c9d1e2f3a4b5c9d6eaabbccddeeff',
    '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeef',
    '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeffX',
    ' 7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
    42,
  ])('rejects the apiKeyId %p', (apiKeyId) => {
    expect(parseKeyEvent(message({ apiKeyId }))).toBeNull();
  });

  it('rejects a missing or non-string organizationId', () => {
    expect(parseKeyEvent(message({ organizationId: undefined }))).toBeNull();
    expect(parseKeyEvent(message({ organizationId: 7 }))).toBeNull();
  });

  it.each(['yesterday', '', '2030-13-45T99:99:99Z', 1893499200000, null])(
    'rejects the revokedAt %p',
    (revokedAt) => {
      expect(parseKeyEvent(message({ revokedAt }))).toBeNull();
    },
  );

  it.each(['expired', 'REVOKED', '', undefined, 1])('rejects the reason %p', (reason) => {
    expect(parseKeyEvent(message({ reason }))).toBeNull();
  });

  describe('secret_retired', () => {
    const RETIRED: SecretRetiredEvent = {
      type: 'secret_retired',
      apiKeyId: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
      organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
      currentVersion: 2,
      retiredAt: '2030-01-02T12:00:00.000Z',
    };

    function retiredMessage(overrides: Record<string, unknown>): string {
      return JSON.stringify({ ...RETIRED, ...overrides });
    }

    it('accepts a valid event', () => {
      expect(parseKeyEvent(JSON.stringify(RETIRED))).toEqual(RETIRED);
    });

    it('accepts any later version and keeps only the fields of the event', () => {
      const parsed = parseKeyEvent(retiredMessage({ currentVersion: 17, reason: 'revoked', extra: 1 }));
      expect(parsed).toEqual({ ...RETIRED, currentVersion: 17 });
      expect(parsed).not.toHaveProperty('reason');
      expect(parsed).not.toHaveProperty('extra');
    });

    it.each([1, 0, -2, 2.5, '2', null, undefined, Number.NaN])(
      'rejects the currentVersion %p',
      (currentVersion) => {
        expect(parseKeyEvent(retiredMessage({ currentVersion }))).toBeNull();
      },
    );

    it.each(['tomorrow', '', 1893585600000, null, undefined])('rejects the retiredAt %p', (retiredAt) => {
      expect(parseKeyEvent(retiredMessage({ retiredAt }))).toBeNull();
    });

    it('rejects a bad apiKeyId or organizationId as for key_revoked', () => {
      expect(parseKeyEvent(retiredMessage({ apiKeyId: 'not-a-uuid' }))).toBeNull();
      expect(parseKeyEvent(retiredMessage({ organizationId: 3 }))).toBeNull();
    });

    it('does not take the fields of one event type for the other', () => {
      // A key_revoked carrying retirement fields is still judged as key_revoked: it lacks revokedAt.
      expect(parseKeyEvent(retiredMessage({ type: 'key_revoked' }))).toBeNull();
      expect(parseKeyEvent(message({ type: 'secret_retired' }))).toBeNull();
    });
  });

  describe('rate_limit_changed', () => {
    const CHANGED: RateLimitChangedEvent = {
      type: 'rate_limit_changed',
      apiKeyId: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
      organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
      requestsPerMinute: 120,
      burst: 20,
      source: 'override',
      changedAt: '2030-01-02T12:00:00.000Z',
    };

    function changedMessage(overrides: Record<string, unknown>): string {
      return JSON.stringify({ ...CHANGED, ...overrides });
    }

    it('accepts an override and a return to the plan', () => {
      expect(parseKeyEvent(JSON.stringify(CHANGED))).toEqual(CHANGED);
      const plan = { ...CHANGED, requestsPerMinute: 300, burst: 50, source: 'plan' };
      expect(parseKeyEvent(JSON.stringify(plan))).toEqual(plan);
    });

    it('accepts the bounds of an override and keeps only the fields of the event', () => {
      const parsed = parseKeyEvent(
        changedMessage({ requestsPerMinute: 100_000, burst: 0, reason: 'revoked', extra: 1 }),
      );
      expect(parsed).toEqual({ ...CHANGED, requestsPerMinute: 100_000, burst: 0 });
      expect(parsed).not.toHaveProperty('reason');
      expect(parsed).not.toHaveProperty('extra');
      expect(parseKeyEvent(changedMessage({ requestsPerMinute: 1, burst: 10_000 }))).toMatchObject({
        requestsPerMinute: 1,
        burst: 10_000,
      });
    });

    it.each([0, -1, 100_001, 1.5, '120', null, undefined, Number.NaN])(
      'rejects the requestsPerMinute %p',
      (requestsPerMinute) => {
        expect(parseKeyEvent(changedMessage({ requestsPerMinute }))).toBeNull();
      },
    );

    it.each([-1, 10_001, 2.5, '20', null, undefined])('rejects the burst %p', (burst) => {
      expect(parseKeyEvent(changedMessage({ burst }))).toBeNull();
    });

    it.each(['OVERRIDE', 'tier', '', null, undefined])('rejects the source %p', (source) => {
      expect(parseKeyEvent(changedMessage({ source }))).toBeNull();
    });

    it.each(['now', '', 1893585600000, null, undefined])('rejects the changedAt %p', (changedAt) => {
      expect(parseKeyEvent(changedMessage({ changedAt }))).toBeNull();
    });

    it('rejects a bad apiKeyId or organizationId as for the other events', () => {
      expect(parseKeyEvent(changedMessage({ apiKeyId: 'not-a-uuid' }))).toBeNull();
      expect(parseKeyEvent(changedMessage({ organizationId: 3 }))).toBeNull();
    });

    it('is never taken for a revocation, nor a revocation for it', () => {
      expect(parseKeyEvent(changedMessage({ type: 'key_revoked' }))).toBeNull();
      expect(parseKeyEvent(changedMessage({ type: 'secret_retired' }))).toBeNull();
      expect(parseKeyEvent(message({ type: 'rate_limit_changed' }))).toBeNull();
    });
  });

  describe.each(['key_disabled', 'key_enabled', 'allowed_ips_changed'] as const)('%s', (type) => {
    const event = {
      type,
      apiKeyId: VALID.apiKeyId,
      organizationId: VALID.organizationId,
      changedAt: '2030-01-01T12:00:00.000Z',
    };
    const eventMessage = (overrides: Record<string, unknown> = {}) =>
      JSON.stringify({ ...event, ...overrides });

    it('accepts a valid event and keeps only its fields', () => {
      expect(parseKeyEvent(eventMessage({ revokedAt: VALID.revokedAt, extra: 1 }))).toEqual(event);
    });

    it.each(['now', '', 1893585600000, null, undefined])('rejects the changedAt %p', (changedAt) => {
      expect(parseKeyEvent(eventMessage({ changedAt }))).toBeNull();
    });

    it('rejects a bad apiKeyId or organizationId as for the other events', () => {
      expect(parseKeyEvent(eventMessage({ apiKeyId: 'not-a-uuid' }))).toBeNull();
      expect(parseKeyEvent(eventMessage({ organizationId: 3 }))).toBeNull();
    });

    it('is never taken for a revocation, nor a revocation for it', () => {
      expect(parseKeyEvent(eventMessage({ type: 'key_revoked' }))).toBeNull();
      expect(parseKeyEvent(message({ type }))).toBeNull();
    });
  });
});
