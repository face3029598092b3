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

  const cursorAt = (at: string, id = ID) => Buffer.from(`${at}|${id}`).toString('base64url');

  it.each([
    ['a six-digit year PostgreSQL cannot store', '+275760-09-13T00:00:00.000Z'],
    ['a negative year', '-001000-01-01T00:00:00.000Z'],
    ['year 0, which PostgreSQL does not have', '0000-01-01T00:00:00.000Z'],
    ['a year alone', '2000'],
    ['a date without a time', '2030-01-01'],
    ['an RFC 2822 date', 'Sat, 01 Jan 2000 00:00:00 GMT'],
    ['a time zone offset', '2030-01-01T12:00:00.000+01:00'],
    ['an offset PostgreSQL refuses', '2000-01-01 00:00:00+99'],
    ['no milliseconds', '2030-01-01T12:00:00Z'],
    ['a day that does not exist', '2030-02-30T00:00:00.000Z'],
    ['hour 24', '2030-01-01T24:00:00.000Z'],
    ['a NUL after the time', '2030-01-01T12:00:00.000Z\u0000'],
  ])('refuses a cursor whose time is %s, before any SQL', (_case, at) => {
    expect(() => decodeCursor(cursorAt(at))).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });

  it('accepts the first and the last instant of the 4-digit years', () => {
    for (const at of ['0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
      expect(decodeCursor(cursorAt(at)).at).toBe(at);
    }
  });

  it('holds numeric ids to PostgreSQL bigint, 2^63−1 at most', () => {
    const at = AT.toISOString();
    expect(decodeCursor(cursorAt(at, '9223372036854775807'), /^\d{1,19}$/).id).toBe('9223372036854775807');
    for (const id of ['9223372036854775808', '9999999999999999999']) {
      expect(() => decodeCursor(cursorAt(at, id), /^\d{1,19}$/)).toThrow(
        expect.objectContaining({ code: 'validation_failed' }),
      );
    }
    expect(() => decodeCursor(cursorAt(at, '9'.repeat(40)), /^\d+$/)).toThrow(GatehouseError);
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
