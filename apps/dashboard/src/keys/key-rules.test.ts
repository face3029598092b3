import { describe, expect, it } from 'vitest';
import {
  clientIdProblem,
  expiryInstant,
  expiryProblem,
  formatCountdown,
  grantablePermissions,
  suggestedExpiry,
  whyNoWrite,
} from './key-rules';

describe('clientIdProblem', () => {
  it("accepts the API's alphabet from 3 to 50 characters", () => {
    expect(clientIdProblem('ci-main')).toBeNull();
    expect(clientIdProblem('A.b_c-9')).toBeNull();
    expect(clientIdProblem('x'.repeat(50))).toBeNull();
  });

  it('says what is wrong otherwise', () => {
    expect(clientIdProblem('')).toBe('Enter a client ID.');
    expect(clientIdProblem('ci')).toBe('A client ID has at least 3 characters.');
    expect(clientIdProblem('x'.repeat(51))).toBe('A client ID has at most 50 characters.');
    expect(clientIdProblem('ci main')).toBe('Use only letters, digits, ".", "-" and "_".');
    expect(clientIdProblem('ci/main')).toBe('Use only letters, digits, ".", "-" and "_".');
  });
});

describe('grantablePermissions', () => {
  it('offers only what the caller holds, in the catalog order', () => {
    expect(grantablePermissions({ permissions: ['write:findings', 'read:keys', 'write:keys'] })).toEqual([
      'read:keys',
      'write:keys',
      'write:findings',
    ]);
    expect(grantablePermissions({ permissions: [] })).toEqual([]);
  });
});

describe('the expiry', () => {
  it('is suggested 90 days from now (UTC)', () => {
    expect(suggestedExpiry(new Date('2026-12-04T23:30:00Z'))).toBe('2027-03-04');
  });

  it('is optional, must be a future day, and is sent as the start of that day in UTC', () => {
    const now = new Date('2026-12-04T12:00:00Z');
    expect(expiryProblem('', now)).toBeNull();
    expect(expiryProblem('2026-12-05', now)).toBeNull();
    expect(expiryProblem('2026-12-04', now)).toBe('The expiry must be in the future.');
    expect(expiryProblem('not a date', now)).toBe('Enter a date as YYYY-MM-DD.');
    expect(expiryInstant('2027-03-04')).toBe('2027-03-04T00:00:00.000Z');
    expect(expiryInstant('')).toBeUndefined();
  });
});

describe('formatCountdown', () => {
  it('shows the larger units only when needed, rounding up to the second', () => {
    expect(formatCountdown(59_001)).toBe('1m 0s');
    expect(formatCountdown(5_000)).toBe('5s');
    expect(formatCountdown(3_600_000)).toBe('1h 0m 0s');
    expect(formatCountdown(86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4_000)).toBe('1d 2h 3m 4s');
  });

  it('says "now" once the grace period is over', () => {
    expect(formatCountdown(0)).toBe('now');
    expect(formatCountdown(-1)).toBe('now');
  });
});

describe('whyNoWrite', () => {
  it('lets a caller with write:keys change a key no stronger than itself', () => {
    expect(
      whyNoWrite(
        { permissions: ['read:keys', 'write:keys', 'read:findings'] },
        { permissions: ['read:findings'] },
      ),
    ).toBeNull();
  });

  it('names the role that may only read', () => {
    expect(whyNoWrite({ role: 'viewer', permissions: ['read:keys', 'read:findings'] })).toBe(
      'Your role (viewer) may read keys but not change them.',
    );
  });

  it('names what a stronger key holds that the caller lacks', () => {
    expect(
      whyNoWrite(
        { permissions: ['read:keys', 'write:keys'] },
        { permissions: ['write:keys', 'write:findings'] },
      ),
    ).toBe('This key holds write:findings, which you do not: you may not change it.');
  });
});
