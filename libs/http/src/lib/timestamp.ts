import { isISO8601, ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * The ISO 8601 forms that JavaScript and PostgreSQL both read, and read alike: a calendar date, optionally with a
 * time (minutes at least, seconds and a fraction optional) and a zone (`Z`, `±HHMM`, `±HH:MM`).
 * class-validator's IsISO8601 also admits week dates (`2009-W53-7`), ordinal dates (`2009-123`), a year alone,
 * an hour alone, a comma fraction or a `±HH` zone, which PostgreSQL refuses (a 500) or JavaScript cannot
 * read.
 */
const TIMESTAMP =
  /^(?!0000)\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Real zones are within ±14:00; PostgreSQL refuses offsets past about ±16 h (a 500). */
const ZONE_OFFSET = /([+-])(\d{2}):?(\d{2})$/;
const MAX_ZONE_OFFSET_MINUTES = 14 * 60;
/** Years 0001–9999 in UTC, as the suite writes them everywhere (cursors too): `9999-12-31T23:59-01:00` is not. */
const EARLIEST_MS = new Date('0001-01-01T00:00:00.000Z').getTime();
const LATEST_MS = new Date('9999-12-31T23:59:59.999Z').getTime();

/** Whether a timestamp from a client can go to PostgreSQL and to `new Date` as is (see {@link TIMESTAMP}). */
export function isTimestamp(value: unknown): value is string {
  if (
    typeof value !== 'string' ||
    !TIMESTAMP.test(value) ||
    !isISO8601(value, { strict: true }) ||
    Number.isNaN(Date.parse(value))
  ) {
    return false;
  }
  const offset = value.includes('T') ? ZONE_OFFSET.exec(value) : null;
  if (offset && Number(offset[2]) * 60 + Number(offset[3]) > MAX_ZONE_OFFSET_MINUTES) return false;
  const at = Date.parse(value);
  return at >= EARLIEST_MS && at <= LATEST_MS;
}

/** A query or body field holding a date-time (see {@link isTimestamp}); replaces IsISO8601. */
export function IsTimestamp(validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTimestamp',
      validator: {
        validate: (value: unknown) => isTimestamp(value),
        defaultMessage: () =>
          '$property must be an ISO 8601 date-time such as 2030-01-31T00:00:00Z (a date, a time, a zone)',
      },
    },
    validationOptions,
  );
}
