import { describe, expect, it } from 'vitest';
import { formatTime, stateLabel } from './format';

describe('formatTime', () => {
  it('writes times in UTC and says so', () => {
    expect(formatTime('2026-12-04T23:30:00.000Z', '')).toBe('4 Dec 2026, 23:30 UTC');
  });

  it('shows the placeholder for a missing time', () => {
    expect(formatTime(null, 'Never')).toBe('Never');
  });
});

describe('stateLabel', () => {
  it('warns about an active key that expires soon', () => {
    expect(stateLabel({ status: 'active', expiry_status: 'expiring_soon' })).toBe('Active, expiring soon');
  });

  it('says only the status once the key is no longer usable', () => {
    expect(stateLabel({ status: 'revoked', expiry_status: 'expiring_soon' })).toBe('Revoked');
    expect(stateLabel({ status: 'expired', expiry_status: 'expired' })).toBe('Expired');
  });
});
