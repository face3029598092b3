import { parseSecuritySeverity, sarifSeverity, severityFromLevel, severityFromScore } from './severity';

describe('severityFromScore (GitHub security-severity thresholds)', () => {
  it.each([
    [10, 'critical'],
    [9.0, 'critical'],
    [8.9, 'high'],
    [7.0, 'high'],
    [6.9, 'medium'],
    [4.0, 'medium'],
    [3.9, 'low'],
    [0.1, 'low'],
    [0, 'info'],
  ])('%s → %s', (score, severity) => {
    expect(severityFromScore(score)).toBe(severity);
  });
});

describe('severityFromLevel', () => {
  it('maps SARIF levels to severities', () => {
    expect(severityFromLevel('error')).toBe('high');
    expect(severityFromLevel('warning')).toBe('medium');
    expect(severityFromLevel('note')).toBe('low');
    expect(severityFromLevel('none')).toBe('info');
  });
});

describe('parseSecuritySeverity', () => {
  it('accepts numbers and numeric strings (CodeQL writes "7.8")', () => {
    expect(parseSecuritySeverity(7.8)).toBe(7.8);
    expect(parseSecuritySeverity(' 9.1 ')).toBe(9.1);
    expect(parseSecuritySeverity('0')).toBe(0);
  });

  it('refuses what is not a score, so that the level decides', () => {
    for (const value of ['high', '', '  ', -1, Number.NaN, Number.POSITIVE_INFINITY, null, undefined, {}]) {
      expect(parseSecuritySeverity(value)).toBeNull();
    }
  });
});

describe('sarifSeverity', () => {
  const none = { resultScore: undefined, ruleScore: undefined, resultLevel: undefined, ruleLevel: undefined };

  it("prefers the result's score over the rule's, and any score over the level", () => {
    expect(sarifSeverity({ ...none, resultScore: '9.5', ruleScore: '2.0', resultLevel: 'note' })).toEqual({
      severity: 'critical',
      score: 9.5,
      level: 'note',
    });
    expect(sarifSeverity({ ...none, ruleScore: 7.5, resultLevel: 'note' }).severity).toBe('high');
  });

  it("uses the result's level, else the rule's default level, else warning", () => {
    expect(sarifSeverity({ ...none, resultLevel: 'error', ruleLevel: 'note' }).severity).toBe('high');
    expect(sarifSeverity({ ...none, ruleLevel: 'note' }).severity).toBe('low');
    expect(sarifSeverity(none)).toEqual({ severity: 'medium', score: null, level: 'warning' });
  });

  it('treats an unknown level or score as absent', () => {
    expect(
      sarifSeverity({ ...none, resultLevel: 'critical', ruleLevel: 'error', ruleScore: 'n/a' }).severity,
    ).toBe('high');
  });
});
