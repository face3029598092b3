import type { Severity } from '../findings.constants';

/**
 * SARIF has two ways of saying how bad a result is, and Gatehouse has five severities:
 * - `security-severity` (GitHub's convention, a CVSS-like score 0.0–10.0 in the rule's or the result's
 *   `properties`, as a number or a numeric string; the result's wins): ≥ 9.0 critical, ≥ 7.0 high, ≥ 4.0
 *   medium, > 0 low, 0 info;
 * - otherwise the level (`result.level`, else the rule's `defaultConfiguration.level`, else SARIF's default
 *   'warning'): error → high, warning → medium, note → low, none → info. An unknown level counts as the
 *   default, since SARIF gives 'warning' to a result that says nothing usable.
 */

/** The score if the value is a finite number ≥ 0 or a string holding one; null otherwise (then the level counts). */
export function parseSecuritySeverity(value: unknown): number | null {
  let score: number;
  if (typeof value === 'number') {
    score = value;
  } else if (typeof value === 'string' && value.trim() !== '') {
    score = Number(value.trim());
  } else {
    return null;
  }
  return Number.isFinite(score) && score >= 0 ? score : null;
}

export function severityFromScore(score: number): Severity {
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'info';
}

export const SARIF_LEVELS = ['error', 'warning', 'note', 'none'] as const;
export type SarifLevel = (typeof SARIF_LEVELS)[number];

export function isSarifLevel(value: unknown): value is SarifLevel {
  return typeof value === 'string' && (SARIF_LEVELS as readonly string[]).includes(value);
}

export function severityFromLevel(level: SarifLevel): Severity {
  switch (level) {
    case 'error':
      return 'high';
    case 'warning':
      return 'medium';
    case 'note':
      return 'low';
    case 'none':
      return 'info';
  }
}

export interface SeverityInput {
  /** `result.properties['security-severity']`, as given. */
  resultScore: unknown;
  /** The rule's `properties['security-severity']`, as given. */
  ruleScore: unknown;
  /** `result.level`, as given. */
  resultLevel: unknown;
  /** The rule's `defaultConfiguration.level`, as given. */
  ruleLevel: unknown;
}

export interface SeverityDecision {
  severity: Severity;
  /** The score that decided, if one did. */
  score: number | null;
  /** The level that applies (decided only when no score did). */
  level: SarifLevel;
}

export function sarifSeverity(input: SeverityInput): SeverityDecision {
  const level = [input.resultLevel, input.ruleLevel].find(isSarifLevel) ?? 'warning';
  const score = parseSecuritySeverity(input.resultScore) ?? parseSecuritySeverity(input.ruleScore);
  return {
    severity: score === null ? severityFromLevel(level) : severityFromScore(score),
    score,
    level,
  };
}
