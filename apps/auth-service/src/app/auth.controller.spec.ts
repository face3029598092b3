import 'reflect-metadata';
import type { FastifyRequest } from 'fastify';
import { GatehouseError } from '@gatehouse/contracts';
import { createValidationPipe } from '@gatehouse/http';
import {
  AuthenticateClientDto,
  PublishedKeys,
  type AccessTokenResponse,
  type AuthenticateRequest,
  type TokenIssuanceService,
} from '@gatehouse/token-issuance';
import { AuthController } from './auth.controller';

const API_KEY = 'gth_live_0000000000000000000000000000000000000000000000000';
const RESPONSE: AccessTokenResponse = {
  access_token: 'header.payload.signature',
  token_type: 'bearer',
  expires_in: 1800,
  client_id: 'ci-runner',
  api_key_id: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
};

function requestOf(
  body: unknown,
  headers: Record<string, string> = { 'x-api-key': API_KEY },
): FastifyRequest {
  return {
    body,
    headers: { 'user-agent': 'ci/1.0', ...headers },
    ip: '203.0.113.7',
    id: 'req-1',
  } as unknown as FastifyRequest;
}

/** The answer the global ValidationPipe gives a body as @Body() AuthenticateClientDto, as the route had it. */
async function globalPipeRefusal(body: unknown): Promise<unknown> {
  return createValidationPipe()
    .transform(body, { type: 'body', metatype: AuthenticateClientDto })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
}

describe('AuthController authenticate', () => {
  let authenticate: jest.Mock<Promise<AccessTokenResponse>, [AuthenticateRequest]>;
  let controller: AuthController;

  beforeEach(() => {
    authenticate = jest.fn<Promise<AccessTokenResponse>, [AuthenticateRequest]>().mockResolvedValue(RESPONSE);
    controller = new AuthController(
      { authenticate } as unknown as TokenIssuanceService,
      new PublishedKeys([]),
    );
  });

  it('hands the key, client_id, address, user agent and request id to token issuance', async () => {
    await expect(controller.authenticate(requestOf({ client_id: 'ci-runner' }))).resolves.toBe(RESPONSE);
    expect(authenticate).toHaveBeenCalledWith({
      apiKey: API_KEY,
      clientId: 'ci-runner',
      ip: '203.0.113.7',
      userAgent: 'ci/1.0',
      requestId: 'req-1',
    });
  });

  it('passes no key when the header is absent, for token issuance to answer missing_api_key', async () => {
    await controller.authenticate(requestOf({ client_id: 'ci-runner' }, {}));
    expect(authenticate).toHaveBeenCalledWith(expect.objectContaining({ apiKey: undefined }));
  });

  it.each([
    ['a client_id too short', { client_id: 'ab' }],
    ['a client_id too long', { client_id: 'a'.repeat(51) }],
    ['a client_id with bad characters', { client_id: 'runner one' }],
    ['no client_id', {}],
    ['a client_id that is not a string', { client_id: 42 }],
    ['an unknown field', { client_id: 'runner', admin: true }],
    ['no body at all', undefined],
    ['an array', [{ client_id: 'runner' }]],
  ])(
    'refuses a body with %s exactly as the global validation did, before any key is looked at',
    async (_case, body) => {
      const expected = await globalPipeRefusal(body);
      expect(expected).toBeInstanceOf(GatehouseError);

      const refusal: unknown = await controller.authenticate(requestOf(body)).then(
        () => undefined,
        (error: unknown) => error,
      );

      expect(refusal).toBeInstanceOf(GatehouseError);
      expect(refusal).toMatchObject({
        code: (expected as GatehouseError).code,
        message: (expected as GatehouseError).message,
        details: (expected as GatehouseError).details,
      });
      expect(authenticate).not.toHaveBeenCalled();
    },
  );
});
