import fc from 'fast-check';
import { encodeCursor, GatehouseError } from '@gatehouse/contracts';
import {
  API_KEY_SORTS,
  decodeListCursor,
  encodeListCursor,
  isListCursor,
  SORT_ORDERS,
  type ApiKeyListPosition,
  type ApiKeySort,
} from './api-key-list-cursor';

const ID = '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff';

function refused(run: () => unknown): GatehouseError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toMatchObject({ code: 'validation_failed', status: 400 });
    return error as GatehouseError;
  }
  throw new Error('the cursor was accepted');
}

function raw(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

const time = fc
  .date({
    min: new Date('0001-01-01T00:00:00.000Z'),
    max: new Date('9999-12-31T23:59:59.999Z'),
    noInvalidDate: true,
  })
  .map((date) => date.toISOString());

const position: fc.Arbitrary<ApiKeyListPosition> = fc.oneof(
  fc.record({
    sort: fc.constant('created_at' as const),
    order: fc.constantFrom(...SORT_ORDERS),
    value: time,
    id: fc.uuid(),
  }),
  fc.record({
    sort: fc.constant('last_used_at' as const),
    order: fc.constantFrom(...SORT_ORDERS),
    value: fc.option(time, { nil: null }),
    id: fc.uuid(),
  }),
  fc.record({
    sort: fc.constant('name' as const),
    order: fc.constantFrom(...SORT_ORDERS),
    value: fc.string({ minLength: 1, maxLength: 100, unit: 'grapheme' }).filter((name) => name.length <= 100),
    id: fc.uuid(),
  }),
);

describe('api key list cursors', () => {
  it('read back exactly what they were made of, under their own sort and order', () => {
    fc.assert(
      fc.property(position, (written) => {
        const cursor = encodeListCursor(written);
        expect(isListCursor(cursor)).toBe(true);
        expect(cursor.length).toBeLessThanOrEqual(1000);
        expect(decodeListCursor(cursor, written.sort, written.order)).toEqual(written);
      }),
    );
  });

  it('are refused under any other sort or order', () => {
    fc.assert(
      fc.property(
        position,
        fc.constantFrom(...API_KEY_SORTS),
        fc.constantFrom(...SORT_ORDERS),
        (written, sort, order) => {
          fc.pre(sort !== written.sort || order !== written.order);
          const error = refused(() => decodeListCursor(encodeListCursor(written), sort, order));
          expect(error.message).toMatch(/sorted otherwise/);
        },
      ),
    );
  });

  it.each<[string, ApiKeySort, string]>([
    ['not base64 JSON', 'name', 'not-a-cursor'],
    ['the older created_at cursor', 'created_at', encodeCursor(new Date('2030-01-01T00:00:00.000Z'), ID)],
    ['an array', 'name', raw(['name', 'asc'])],
    ['a bad id', 'name', raw({ s: 'name', o: 'asc', v: 'a', i: 'nope' })],
    ['an extra field', 'name', raw({ s: 'name', o: 'asc', v: 'a', i: ID, x: 1 })],
    ['an empty name', 'name', raw({ s: 'name', o: 'asc', v: '', i: ID })],
    ['a name too long', 'name', raw({ s: 'name', o: 'asc', v: 'n'.repeat(101), i: ID })],
    ['a null name', 'name', raw({ s: 'name', o: 'asc', v: null, i: ID })],
    ['a null created_at', 'created_at', raw({ s: 'created_at', o: 'asc', v: null, i: ID })],
    ['a loose time', 'last_used_at', raw({ s: 'last_used_at', o: 'asc', v: '2030-01-01', i: ID })],
    [
      'an impossible date',
      'created_at',
      raw({ s: 'created_at', o: 'asc', v: '2030-02-30T00:00:00.000Z', i: ID }),
    ],
  ])('refuses %s', (_what, sort, cursor) => {
    refused(() => decodeListCursor(cursor, sort, 'asc'));
  });

  it('tells its own cursors from the older format', () => {
    expect(isListCursor(encodeCursor(new Date('2030-01-01T00:00:00.000Z'), ID))).toBe(false);
    expect(isListCursor('%%%')).toBe(false);
  });
});
