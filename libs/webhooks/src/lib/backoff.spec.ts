import { RETRY_DELAY_MAX_MS, retryDelayMs } from './backoff';

describe('retryDelayMs', () => {
  const middle = () => 0.5;

  it('multiplies the base by 4 per failed attempt, capped at six hours', () => {
    const schedule = [1, 2, 3, 4, 5, 6, 7].map((attempt) =>
      retryDelayMs(attempt, 30_000, RETRY_DELAY_MAX_MS, middle),
    );
    expect(schedule).toEqual([30_000, 120_000, 480_000, 1_920_000, 7_680_000, 21_600_000, 21_600_000]);
    // Eight attempts with the defaults: the last one about 15 hours after the first.
    const total = schedule.reduce((sum, delay) => sum + delay, 0);
    expect(total / 3_600_000).toBeCloseTo(14.84, 2);
  });

  it('adds at most 20% jitter either way', () => {
    expect(retryDelayMs(2, 1000, RETRY_DELAY_MAX_MS, () => 0)).toBe(3200);
    expect(retryDelayMs(2, 1000, RETRY_DELAY_MAX_MS, () => 1)).toBe(4800);
  });
});
