import 'reflect-metadata';
import fc from 'fast-check';
import { GatehouseError } from '@gatehouse/contracts';
import { createValidationPipe } from '@gatehouse/http';
import { acceptedClientIdOf, AuthenticateClientDto } from './authenticate-client.dto';

const pipe = createValidationPipe();

/** What the app's global validation makes of a body: the client_id it accepts, or the error it answers. */
async function validated(body: unknown): Promise<{ clientId?: string; error?: GatehouseError }> {
  try {
    const dto = (await pipe.transform(body, {
      type: 'body',
      metatype: AuthenticateClientDto,
    })) as AuthenticateClientDto;
    return { clientId: dto.client_id };
  } catch (error) {
    if (error instanceof GatehouseError) return { error };
    throw error;
  }
}

describe('acceptedClientIdOf', () => {
  it.each([
    ['a usual client_id', { client_id: 'ci-pipeline' }, 'ci-pipeline'],
    ['the shortest', { client_id: 'abc' }, 'abc'],
    ['the longest', { client_id: 'a'.repeat(50) }, 'a'.repeat(50)],
    ['every allowed character', { client_id: 'A.z-0_9' }, 'A.z-0_9'],
  ])('accepts %s, as the validation does', async (_case, body, clientId) => {
    expect(acceptedClientIdOf(body)).toBe(clientId);
    expect(await validated(body)).toEqual({ clientId });
  });

  it.each([
    ['a client_id too short', { client_id: 'ab' }],
    ['a client_id too long', { client_id: 'a'.repeat(51) }],
    ['a client_id with a space', { client_id: 'runner one' }],
    ['a client_id with a trailing newline', { client_id: 'runner\n' }],
    ['a client_id with non-ASCII letters', { client_id: 'rünner' }],
    ['no client_id', {}],
    ['a number for client_id', { client_id: 42 }],
    ['null for client_id', { client_id: null }],
    ['an array for client_id', { client_id: ['runner'] }],
    ['an unknown field besides client_id', { client_id: 'runner', admin: true }],
    ['only an unknown field', { admin: true }],
  ])('leaves a body with %s to the validation, which refuses it', async (_case, body) => {
    expect(acceptedClientIdOf(body)).toBeUndefined();
    expect((await validated(body)).error?.code).toBe('validation_failed');
  });

  it.each([
    ['no body', undefined],
    ['null', null],
    ['an array', [{ client_id: 'runner' }]],
    ['a string', 'runner'],
    ['a number', 7],
  ])('leaves a body that is %s to the validation', (_case, body) => {
    expect(acceptedClientIdOf(body)).toBeUndefined();
  });

  it('accepts nothing the validation refuses, and reads the client_id it would', async () => {
    const clientIdLike = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9._-]{0,52}$/),
      fc.string({ maxLength: 55 }),
      fc.constantFrom('abc', 'a'.repeat(50), 'a'.repeat(51)),
      fc.anything(),
    );
    const body = fc.oneof(
      fc.record({ client_id: clientIdLike }),
      fc.record({ client_id: clientIdLike, other: fc.anything() }),
      fc.dictionary(fc.constantFrom('client_id', 'clientId', 'x'), clientIdLike),
      fc.anything(),
    );
    await fc.assert(
      fc.asyncProperty(body, async (candidate) => {
        const accepted = acceptedClientIdOf(candidate);
        if (accepted === undefined) return;
        expect(await validated(candidate)).toEqual({ clientId: accepted });
      }),
      { numRuns: 2000 },
    );
  });
});
