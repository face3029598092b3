import 'reflect-metadata';
import { GatehouseError } from '@gatehouse/contracts';
import { createValidationPipe, type FieldProblem } from '@gatehouse/http';
import { metadataProblem } from './api-key-labels';
import { UpdateApiKeyDto } from './update-api-key.dto';

const pipe = createValidationPipe();

function validate(body: unknown): Promise<unknown> {
  return pipe.transform(body, { type: 'body', metatype: UpdateApiKeyDto });
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

const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, index) => [`k${index}`, 'v']));

describe('UpdateApiKeyDto', () => {
  it.each([
    { name: 'Deploys' },
    { description: 'd'.repeat(500) },
    { description: null },
    { description: '' },
    { metadata: {} },
    { metadata: twenty },
    { metadata: { 'team.name_1-a': 'x'.repeat(200), ['a'.repeat(40)]: '' } },
    { name: 'n', description: 'd', metadata: { team: 'ci' } },
  ])('accepts %p', async (body) => {
    await expect(validate(body)).resolves.toEqual(body);
  });

  it.each([
    [{ name: '' }, 'name'],
    [{ name: null }, 'name'],
    [{ name: 'n'.repeat(101) }, 'name'],
    [{ name: 5 }, 'name'],
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
    [{ name: 'n', permissions: ['write:keys'] }, 'permissions'],
  ])('refuses %p, naming %s', async (body, field) => {
    expect(await refusedFields(body)).toContain(field);
  });

  it('names the first problem of the metadata', () => {
    expect(metadataProblem({ ok: 'v', bad: 1 })).toBe('metadata.bad must be a string');
    expect(metadataProblem({ ok: 'v' })).toBeNull();
  });
});
