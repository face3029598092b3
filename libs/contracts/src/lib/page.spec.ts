import { GatehouseError } from './gatehouse-error';
import { decodeCursor, encodeCursor, toPage } from './page';

const ID = '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff';
const AT = new Date('2030-01-01T12:00:00.000Z');

describe('keyset cursors', () => {
  it('round-trips the position of a row', () => {
    expect(decodeCursor(encodeCursor(AT, ID))).toEqual({ at: AT.toISOString(), id: ID });
  });

  it('accepts another id shape when told, e.g. numeric identity ids', () => {
    expect(decodeCursor(encodeCursor(AT, '42'), /^\d+$/)).toEqual({ at: AT.toISOString(), id: '42' });
    expect(() => decodeCursor(encodeCursor(AT, '42'))).toThrow(GatehouseError);
  });

  it.each([
    ['garbage', 'garbage'],
    ['a bad date', Buffer.from(`yesterday|${ID}`).toString('base64url')],
    ['a bad id', Buffer.from(`${AT.toISOString()}|1; DROP TABLE x`).toString('base64url')],
    ['extra parts', Buffer.from(`${AT.toISOString()}|${ID}|x`).toString('base64url')],
  ])('refuses %s with validation_failed', (_case, cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });
});

describe('toPage', () => {
  const rows = [3, 2, 1].map((n) => ({
    n,
    at: new Date(AT.getTime() - n * 1000),
    id: `${ID.slice(0, -1)}${n}`,
  }));
  const position = (row: (typeof rows)[number]) => ({ at: row.at, id: row.id });

  it('shows `limit` rows and points the cursor after the last one shown when more exist', () => {
    const page = toPage(rows, 2, (row) => row.n, position);
    expect(page.data).toEqual([3, 2]);
    expect(decodeCursor(page.next_cursor as string)).toEqual({
      at: rows[1].at.toISOString(),
      id: rows[1].id,
    });
  });

  it('has no cursor on the last page', () => {
    expect(toPage(rows, 3, (row) => row.n, position)).toEqual({ data: [3, 2, 1], next_cursor: null });
    expect(toPage([], 3, (row: (typeof rows)[number]) => row.n, position)).toEqual({
      data: [],
      next_cursor: null,
    });
  });
});
