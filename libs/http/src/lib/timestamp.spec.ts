import { validate } from 'class-validator';
import { isTimestamp, IsTimestamp } from './timestamp';

describe('isTimestamp', () => {
  it.each([
    '2030-01-31',
    '2030-01-31T00:00Z',
    '2030-01-31T00:00:00Z',
    '2030-01-31T00:00:00.123Z',
    '2030-01-31T00:00:00.123456789Z',
    '2030-01-31T00:00:00+14:00',
    '2030-01-31T00:00:00-1200',
    '2030-01-31T00:00:00',
    '1000-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '2028-02-29T00:00:00Z',
  ])('accepts %s', (value) => {
    expect(isTimestamp(value)).toBe(true);
  });

  it.each([
    ['a year alone', '2009'],
    ['a month alone', '2009-05'],
    ['a week date', '2009-W53-7'],
    ['an ordinal date', '2009-123'],
    ['an hour without minutes', '2009-05-19T14'],
    ['a comma fraction', '2009-05-19T14:39:22,123Z'],
    ['a zone of hours alone', '2030-01-31T00:00:00+01'],
    ['year 0', '0000-01-01T00:00:00Z'],
    ['a six-digit year', '+275760-09-13T00:00:00Z'],
    ['a day that does not exist', '2030-02-30T00:00:00Z'],
    ['a 29 February outside a leap year', '2029-02-29T00:00:00Z'],
    ['hour 24', '2030-01-01T24:00:00Z'],
    ['a leap second', '2030-12-31T23:59:60Z'],
    ['a NUL', '2030-01-01T00:00:00Z\u0000'],
    ['a space for T', '2030-01-01 00:00:00Z'],
    ['an English date', 'Sat, 01 Jan 2000 00:00:00 GMT'],
    ['a number', 1700000000],
    ['a time past year 9999 in UTC', '9999-12-31T23:59:59-23:59'],
    ['a time before year 1 in UTC', '0001-01-01T00:00:00+01:00'],
    ['a zone offset no real zone has', '2030-01-01T00:00:00+15:00'],
  ])('refuses %s', (_case, value) => {
    expect(isTimestamp(value)).toBe(false);
  });
});

describe('IsTimestamp', () => {
  class Query {
    @IsTimestamp()
    since!: unknown;
  }

  it('names the field and the expected form', async () => {
    const query = Object.assign(new Query(), { since: '2009-W53-7' });
    const [error] = await validate(query);
    expect(error?.constraints?.['isTimestamp']).toContain('since must be an ISO 8601 date-time');
    expect(await validate(Object.assign(new Query(), { since: '2030-01-31T00:00:00Z' }))).toEqual([]);
  });
});
