import 'reflect-metadata';
import { GatehouseError } from '@gatehouse/contracts';
import { createValidationPipe, type FieldProblem } from '@gatehouse/http';
import { CreateApiKeyDto } from './create-api-key.dto';
import { UpdateApiKeyDto } from './update-api-key.dto';

const pipe = createValidationPipe();
const base = { name: 'CI', client_id: 'ci-pipeline', permissions: ['write:findings'] };

function validate(
  body: unknown,
  metatype: typeof CreateApiKeyDto | typeof UpdateApiKeyDto,
): Promise<unknown> {
  return pipe.transform(body, { type: 'body', metatype });
}

async function refusal(body: unknown, metatype: typeof CreateApiKeyDto | typeof UpdateApiKeyDto) {
  const error = await validate(body, metatype).then(
    () => {
      throw new Error('the body was accepted');
    },
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(GatehouseError);
  expect(error).toMatchObject({ code: 'validation_failed', status: 400 });
  return (error as GatehouseError).details as FieldProblem[];
}

const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, index) => [`k${index}`, 'v']));

describe('CreateApiKeyDto: description and metadata', () => {
  it.each([
    {},
    { description: 'd'.repeat(500) },
    { description: null },
    { description: '' },
    { metadata: {} },
    { metadata: twenty },
    { metadata: { 'team.name_1-a': 'x'.repeat(200), ['a'.repeat(40)]: '' } },
    { description: 'Deploys main', metadata: { team: 'ci' } },
  ])('accepts %p', async (labels) => {
    await expect(validate({ ...base, ...labels }, CreateApiKeyDto)).resolves.toEqual({ ...base, ...labels });
  });

  // The same values PATCH refuses, refused with the same message.
  it.each([
    [{ description: 'd'.repeat(501) }, 'description'],
    [{ description: 7 }, 'description'],
    [{ metadata: null }, 'metadata'],
    [{ metadata: ['a'] }, 'metadata'],
    [{ metadata: 'team=ci' }, 'metadata'],
    [{ metadata: { ...twenty, one: 'too many' } }, 'metadata'],
    [{ metadata: { ['a'.repeat(41)]: 'v' } }, 'metadata'],
    [{ metadata: { 'has space': 'v' } }, 'metadata'],
    [{ metadata: { _hidden: 'v' } }, 'metadata'],
    [{ metadata: { nested: { a: 'b' } } }, 'metadata'],
    [{ metadata: { count: 3 } }, 'metadata'],
    [{ metadata: { long: 'x'.repeat(201) } }, 'metadata'],
  ])('refuses %p as PATCH does, naming %s', async (labels, field) => {
    const created = await refusal({ ...base, ...labels }, CreateApiKeyDto);
    const updated = await refusal(labels, UpdateApiKeyDto);
    expect(created.map((problem) => problem.field)).toEqual([field]);
    expect(created).toEqual(updated);
  });
});
