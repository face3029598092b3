import 'reflect-metadata';
import { GatehouseError } from '@gatehouse/contracts';
import { createValidationPipe, type FieldProblem } from '@gatehouse/http';
import { SetRateLimitDto } from './set-rate-limit.dto';

const pipe = createValidationPipe();

function validate(body: unknown): Promise<unknown> {
  return pipe.transform(body, { type: 'body', metatype: SetRateLimitDto });
}

async function refusedFields(body: unknown): Promise<string[]> {
  const error = await validate(body).then(
    () => {
      throw new Error('the body was accepted');
    },
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(GatehouseError);
  expect(error).toMatchObject({ code: 'validation_failed', status: 400 });
  return ((error as GatehouseError).details as FieldProblem[]).map((problem) => problem.field);
}

describe('SetRateLimitDto', () => {
  it.each([
    { requests_per_minute: 120, burst: 20 },
    { requests_per_minute: 1, burst: 0 },
    { requests_per_minute: 100_000, burst: 10_000 },
  ])('accepts %p', async (body) => {
    const accepted = await validate(body);
    expect(accepted).toBeInstanceOf(SetRateLimitDto);
    expect(accepted).toEqual(body);
  });

  it.each([
    ['requests_per_minute', { requests_per_minute: 0, burst: 10 }],
    ['requests_per_minute', { requests_per_minute: 100_001, burst: 10 }],
    ['requests_per_minute', { requests_per_minute: 12.5, burst: 10 }],
    ['requests_per_minute', { requests_per_minute: '120', burst: 10 }],
    ['requests_per_minute', { burst: 10 }],
    ['burst', { requests_per_minute: 120, burst: -1 }],
    ['burst', { requests_per_minute: 120, burst: 10_001 }],
    ['burst', { requests_per_minute: 120, burst: null }],
    ['burst', { requests_per_minute: 120 }],
  ])('refuses a bad %s', async (field, body) => {
    expect(await refusedFields(body)).toEqual([field]);
  });

  it('refuses unknown fields rather than dropping them', async () => {
    expect(await refusedFields({ requests_per_minute: 120, burst: 20, source: 'plan' })).toEqual(['source']);
  });
});
