import { GatehouseError } from './gatehouse-error';

/** One page of a list in keyset order, newest first. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Where a page ends: the sort time and the tie-breaking id of its last row. */
export interface KeysetPosition {
  at: string;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Cursors are opaque to clients: base64url of "<ISO time>|<id>". */
export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

/** Exactly what `Date.prototype.toISOString` writes for the years 0001 to 9999. */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** PostgreSQL has no year 0 (`0000-…` is out of range); every 4-digit year from 0001 is within timestamptz. */
const EARLIEST_CURSOR_TIME = '0001-01-01T00:00:00.000Z';
const NUMERIC_ID = /^\d+$/;
/** Numeric ids are PostgreSQL `bigint`s: anything above this fails in SQL instead of matching no row. */
const BIGINT_MAX = 2n ** 63n - 1n;

/** A time exactly as {@link encodeCursor} writes it: any other spelling, however parseable, was not ours. */
function isCursorTime(at: string): boolean {
  if (!CURSOR_TIME.test(at) || at < EARLIEST_CURSOR_TIME) return false;
  const time = new Date(at);
  return !Number.isNaN(time.getTime()) && time.toISOString() === at;
}

function isCursorId(id: string, idPattern: RegExp): boolean {
  if (!idPattern.test(id)) return false;
  return !NUMERIC_ID.test(id) || BigInt(id) <= BIGINT_MAX;
}

/**
 * Any damage to a cursor is the same client mistake, answered with one 400, and found here rather than by
 * PostgreSQL: the time must be what `encodeCursor` writes (strict UTC ISO-8601 with milliseconds, a real date,
 * year 0001–9999), the id must match `idPattern` and, when numeric, fit a `bigint` (at most 2^63−1).
 */
export function decodeCursor(cursor: string, idPattern: RegExp = UUID): KeysetPosition {
  const [at, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || extra !== undefined || !isCursorId(id, idPattern) || !isCursorTime(at)) {
    throw new GatehouseError('validation_failed', 'cursor is invalid; pass next_cursor from a previous page');
  }
  return { at, id };
}

/**
 * Lists fetch `limit + 1` rows: the extra row only tells that another page exists, and the cursor points after
 * the last row shown.
 */
export function toPage<Row, View>(
  rows: Row[],
  limit: number,
  view: (row: Row) => View,
  position: (row: Row) => { at: Date; id: string },
): Page<View> {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const end = rows.length > limit && last !== undefined ? position(last) : undefined;
  return { data: page.map(view), next_cursor: end ? encodeCursor(end.at, end.id) : null };
}
