import { createHash } from 'node:crypto';
import type { MappedFinding } from './upload.types';

/**
 * A finding's identity says "this is the same problem as last time", so that a re-uploaded or later scan updates
 * the finding instead of adding one. It is the sha256 (hex) of JSON.stringify of a tuple, chosen by what the
 * result offers, most stable first:
 * - SARIF `fingerprints` (the tool says they are stable): ['fingerprints', tool, ruleId, sorted [key, value]];
 * - SARIF `partialFingerprints` (stable only together with the file, e.g. CodeQL's primaryLocationLineHash):
 *   ['partialFingerprints', tool, ruleId, path | null, sorted [key, value]];
 * - the native `fingerprint`: ['fingerprint', tool, ruleId, fingerprint];
 * - otherwise computed: ['computed', tool, ruleId, path | null, X] where X is the region's snippet with its
 *   whitespace normalized (trimmed, each run of whitespace one space) if there is one, else the start line,
 *   else the message text, else null. A snippet survives the code moving up or down; a line does not.
 * The tool, rule id, path and message are the mapped (sanitized, cut) values, so the identity of a finding
 * is exactly what Gatehouse shows of it. Fingerprint maps keep only string values; an empty one counts as absent.
 * Two results of one upload can have the same identity (e.g. two results of one rule on one line without
 * fingerprints): they are one finding.
 */

export type IdentitySource = MappedFinding['identitySource'];

export interface IdentityInput {
  tool: string;
  ruleId: string;
  path: string | null;
  fingerprints?: unknown;
  partialFingerprints?: unknown;
  /** The native format's own fingerprint. */
  fingerprint?: string | null;
  snippet?: string | null;
  startLine?: number | null;
  message?: string | null;
}

export interface Identity {
  identity: string;
  identitySource: IdentitySource;
}

/** The string entries of a fingerprint map sorted by key; null when it has none. */
function sortedStringPairs(map: unknown): [string, string][] | null {
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return null;
  const pairs = Object.entries(map).filter((pair): pair is [string, string] => typeof pair[1] === 'string');
  if (pairs.length === 0) return null;
  // Code-unit order, independent of locale, so that the identity never depends on where it was computed.
  return pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function normalizeSnippet(snippet: string): string {
  return snippet.trim().replace(/\s+/g, ' ');
}

function sha256Hex(tuple: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(tuple), 'utf8').digest('hex');
}

export function findingIdentity(input: IdentityInput): Identity {
  const { tool, ruleId, path } = input;
  const fingerprints = sortedStringPairs(input.fingerprints);
  if (fingerprints) {
    return {
      identity: sha256Hex(['fingerprints', tool, ruleId, fingerprints]),
      identitySource: 'fingerprints',
    };
  }
  const partial = sortedStringPairs(input.partialFingerprints);
  if (partial) {
    return {
      identity: sha256Hex(['partialFingerprints', tool, ruleId, path, partial]),
      identitySource: 'partialFingerprints',
    };
  }
  if (input.fingerprint) {
    return {
      identity: sha256Hex(['fingerprint', tool, ruleId, input.fingerprint]),
      identitySource: 'fingerprint',
    };
  }
  const snippet = input.snippet ? normalizeSnippet(input.snippet) : '';
  const anchor = snippet !== '' ? snippet : (input.startLine ?? input.message ?? null);
  return { identity: sha256Hex(['computed', tool, ruleId, path, anchor]), identitySource: 'computed' };
}
