import { RateLimitOverrides } from './rate-limit-overrides';

describe('RateLimitOverrides', () => {
  it('knows nothing of a key until a change arrives', () => {
    expect(new RateLimitOverrides().get('key-1')).toBeUndefined();
  });

  it('keeps the latest change per key, whatever order the messages arrive in', () => {
    const overrides = new RateLimitOverrides();
    overrides.apply('key-1', { requestsPerMinute: 5, burst: 0 }, new Date('2026-11-23T10:00:02Z'));
    overrides.apply('key-1', { requestsPerMinute: 60, burst: 10 }, new Date('2026-11-23T10:00:01Z'));
    overrides.apply('key-2', { requestsPerMinute: 7, burst: 1 }, new Date('2026-11-23T10:00:00Z'));
    expect(overrides.get('key-1')).toEqual({ requestsPerMinute: 5, burst: 0 });
    expect(overrides.get('key-2')).toEqual({ requestsPerMinute: 7, burst: 1 });
    overrides.apply('key-1', { requestsPerMinute: 1000, burst: 100 }, new Date('2026-11-23T10:00:03Z'));
    expect(overrides.get('key-1')).toEqual({ requestsPerMinute: 1000, burst: 100 });
  });
});
