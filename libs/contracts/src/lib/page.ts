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

/** Any damage to a cursor is the same client mistake, answered with one 400. */
export function decodeCursor(cursor: string, idPattern: RegExp = UUID): KeysetPosition {
  const [at, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || extra !== undefined || !idPattern.test(id) || Number.isNaN(Date.parse(at))) {
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
