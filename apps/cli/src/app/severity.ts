/** The severities of findings, most severe first, as the API spells them. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/** `threshold` and every severity above it: `high` → critical, high. */
export function atOrAbove(threshold: Severity): Severity[] {
  return SEVERITIES.slice(0, SEVERITIES.indexOf(threshold) + 1);
}

type OpenCounts = Readonly<Record<Severity, { open: number }>>;

/** Open findings at or above `threshold` in a summary's `by_severity`, per severity and in all. */
export function openAtOrAbove(
  bySeverity: OpenCounts,
  threshold: Severity,
): { total: number; bySeverity: Partial<Record<Severity, number>> } {
  const counts: Partial<Record<Severity, number>> = {};
  let total = 0;
  for (const severity of atOrAbove(threshold)) {
    const open = bySeverity[severity].open;
    counts[severity] = open;
    total += open;
  }
  return { total, bySeverity: counts };
}
