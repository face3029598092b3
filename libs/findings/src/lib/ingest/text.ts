/**
 * Every string an upload brings is cleaned here before Gatehouse keeps it:
 * - NUL becomes U+FFFD, because PostgreSQL's text and jsonb cannot hold it (the insert would fail);
 * - a lone UTF-16 surrogate (`"\ud800"` is valid JSON) becomes U+FFFD, because PostgreSQL stores UTF-8 and
 *   refuses it too;
 * - it is cut to the maximum of the column it goes to, with '…' as the last character, so that one oversized
 *   message never fails the whole scan.
 * Lengths count UTF-16 code units, never more than PostgreSQL's varchar(n) counts (code points).
 */

/** The maximum length of each kept string (see MappedFinding and RunContext). */
export const TEXT_MAX = {
  tool: 200,
  toolVersion: 100,
  ruleId: 200,
  title: 500,
  description: 10_000,
  ruleName: 500,
  ruleHelp: 10_000,
  helpUri: 2_000,
  path: 1_000,
  tag: 200,
  repository: 500,
  ref: 500,
  commit: 200,
  /** Any other string kept in `metadata` or a run's context. */
  other: 1_000,
} as const;

/** Tags kept per finding (rule's then result's, first ones win). */
export const TAGS_MAX = 50;

const ELLIPSIS = '…';
const REPLACEMENT = '\uFFFD';
// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** NUL and lone surrogates → U+FFFD; everything else unchanged. */
export function sanitizeText(text: string): string {
  // The test is much cheaper than a replace that finds nothing, and nearly every string is clean.
  UNSTORABLE.lastIndex = 0;
  if (!UNSTORABLE.test(text)) return text;
  UNSTORABLE.lastIndex = 0;
  return text.replace(UNSTORABLE, REPLACEMENT);
}

/** At most `max` UTF-16 code units, '…' last when cut; a surrogate pair is never split. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - ELLIPSIS.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end) + ELLIPSIS;
}

/** A string value sanitized, trimmed and cut to `max`; null for anything else or an empty string. */
export function cleanText(value: unknown, max: number): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  return cutText(sanitizeText(trimmed), max);
}

/** The first non-empty line of a text, or null. */
export function firstLine(text: string | null): string | null {
  if (text === null) return null;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line.trim() !== '') return line.trim();
  }
  return null;
}

/**
 * A JSON value with every string (keys too) made storable in jsonb (NUL and lone surrogates replaced) and, unless
 * `maxString` is Infinity, cut to it (TEXT_MAX.other by default). Only called on values the reader built itself,
 * so depth is already bounded (see upload-reader.ts) and there are no cycles.
 */
export function sanitizeJson(value: unknown, maxString: number = TEXT_MAX.other): unknown {
  if (typeof value === 'string') {
    const clean = sanitizeText(value);
    return maxString === Infinity ? clean : cutText(clean, maxString);
  }
  if (Array.isArray(value)) return value.map((item) => sanitizeJson(item, maxString));
  if (value !== null && typeof value === 'object') {
    const clean: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(clean, sanitizeText(key), {
        value: sanitizeJson(item, maxString),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return clean;
  }
  return value;
}
