import { atOrAbove, openAtOrAbove } from './severity';

describe('severity thresholds', () => {
  it('counts a threshold and everything more severe', () => {
    expect(atOrAbove('critical')).toEqual(['critical']);
    expect(atOrAbove('medium')).toEqual(['critical', 'high', 'medium']);
    expect(atOrAbove('info')).toHaveLength(5);
  });

  it('sums the open findings at or above it, fixed ones not counted', () => {
    const counts = {
      critical: { open: 1, fixed: 4 },
      high: { open: 2, fixed: 0 },
      medium: { open: 5, fixed: 1 },
      low: { open: 9, fixed: 0 },
      info: { open: 0, fixed: 0 },
    };
    expect(openAtOrAbove(counts, 'high')).toEqual({ total: 3, bySeverity: { critical: 1, high: 2 } });
    expect(openAtOrAbove(counts, 'critical').total).toBe(1);
  });
});
