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

/** Whether a timestamp from a client can go to PostgreSQL and to `new Date` as is (see {@link TIMESTAMP}). */
export function isTimestamp(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    TIMESTAMP.test(value) &&
    isISO8601(value, { strict: true }) &&
    !Number.isNaN(Date.parse(value))
  );
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
