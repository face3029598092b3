import { GatehouseError } from '@gatehouse/contracts';
import { API_KEY_NAME_MAX } from './dto/create-api-key.dto';

export const API_KEY_SORTS = ['created_at', 'last_used_at', 'name'] as const;
export type ApiKeySort = (typeof API_KEY_SORTS)[number];
export const SORT_ORDERS = ['asc', 'desc'] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];

export const API_KEY_SORT_DEFAULT: ApiKeySort = 'created_at';
export const SORT_ORDER_DEFAULT: SortOrder = 'desc';

/**
 * Where a page of a sorted key list ends: the sort value of its last row (a time, a name, or null for a key never
 * used) and that row's id, which breaks ties. The sort and order travel along, so that a cursor cannot be replayed
 * under another sort, where its value would mean something else.
 */
export interface ApiKeyListPosition {
  sort: ApiKeySort;
  order: SortOrder;
  value: string | null;
  id: string;
}

interface EncodedPosition {
  s: ApiKeySort;
  o: SortOrder;
  v: string | null;
  i: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Only what `toISOString` writes for a real date of year 0001–9999: anything else was not ours. */
function isIsoTime(value: string): boolean {
  if (!ISO_TIME.test(value) || value < '0001') return false;
  const time = new Date(value);
  return !Number.isNaN(time.getTime()) && time.toISOString() === value;
}

function invalid(): GatehouseError {
  return new GatehouseError('validation_failed', 'cursor is invalid; pass next_cursor from a previous page');
}

function isValueOf(sort: ApiKeySort, value: unknown): value is string | null {
  switch (sort) {
    case 'created_at':
      return typeof value === 'string' && isIsoTime(value);
    case 'last_used_at':
      return value === null || (typeof value === 'string' && isIsoTime(value));
    case 'name':
      return typeof value === 'string' && value.length >= 1 && value.length <= API_KEY_NAME_MAX;
  }
}

/** Opaque to clients: base64url of a small JSON object. */
export function encodeListCursor(position: ApiKeyListPosition): string {
  const encoded: EncodedPosition = { s: position.sort, o: position.order, v: position.value, i: position.id };
  return Buffer.from(JSON.stringify(encoded)).toString('base64url');
}

/**
 * Reads a cursor of {@link encodeListCursor} for the list's current sort and order: a damaged cursor, or one
 * from a list sorted otherwise, is the same client mistake, answered with one 400.
 */
export function decodeListCursor(cursor: string, sort: ApiKeySort, order: SortOrder): ApiKeyListPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    // Not JSON at all: damaged, or an older cursor of the default sort. Either way not one of this sort's.
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid();
  const { s, o, v, i, ...rest } = parsed as Partial<EncodedPosition>;
  if (Object.keys(rest).length > 0 || typeof i !== 'string' || !UUID.test(i)) throw invalid();
  if (s !== sort || o !== order) {
    throw new GatehouseError(
      'validation_failed',
      'cursor belongs to a list sorted otherwise; pass next_cursor from a page of the same sort and order',
    );
  }
  if (!isValueOf(sort, v)) throw invalid();
  return { sort, order, value: v, id: i };
}

/** True when the cursor is one of {@link encodeListCursor}'s, whatever its sort. */
export function isListCursor(cursor: string): boolean {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && 's' in parsed && 'o' in parsed;
  } catch {
    // Anything that is not JSON is not one of ours; the caller tries the older format.
    return false;
  }
}
