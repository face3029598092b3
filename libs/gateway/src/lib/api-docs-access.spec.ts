import type { OpenApiDocument } from './api-docs';
import { addErrorResponses, documentGatewayAccess, documentGatewayAnswers } from './api-docs-access';

const access = { authenticatePath: '/api/v1/auth/m2m/authenticate', apiPrefixes: ['/api/v1/findings'] };

function document(): OpenApiDocument {
  return {
    openapi: '3.0.0',
    info: { title: 'Gatehouse API', version: '1.0.0' },
    paths: {
      '/api/v1/auth/m2m/authenticate': {
        post: { security: [{ api_key: [] }], responses: { 200: { description: 'token' } } },
      },
      '/api/v1/auth/jwks': { get: { responses: { 200: { description: 'keys' } } } },
      '/api/v1/findings': {
        post: { security: [{ bearer: [] }], responses: { 201: { description: 'stored' } } },
      },
    },
    components: { securitySchemes: { bearer: { type: 'http' }, api_key: { type: 'apiKey' } } },
  };
}

describe('documentGatewayAccess', () => {
  it('adds the rate-limit headers and a 429 to every limited operation, and nothing to the others', () => {
    const documented = documentGatewayAccess(document(), access);
    const authenticate = (
      documented.paths['/api/v1/auth/m2m/authenticate'] as {
        post: { responses: Record<string, { headers: object }> };
      }
    ).post;
    expect(Object.keys(authenticate.responses[200].headers)).toEqual([
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
    ]);
    expect(authenticate.responses[429]).toMatchObject({
      headers: { 'Retry-After': { schema: { type: 'integer' } } },
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
    });
    expect(documented.paths['/api/v1/auth/jwks']).toEqual(document().paths['/api/v1/auth/jwks']);
  });

  it('lets the API routes take an API key wherever they take a bearer token, and authenticate stays as it was', () => {
    const documented = documentGatewayAccess(document(), access);
    const upload = (documented.paths['/api/v1/findings'] as { post: { security: unknown } }).post;
    expect(upload.security).toEqual([{ bearer: [] }, { api_key: [] }]);
    const authenticate = (
      documented.paths['/api/v1/auth/m2m/authenticate'] as { post: { security: unknown } }
    ).post;
    expect(authenticate.security).toEqual([{ api_key: [] }]);
  });
});

describe('documentGatewayAccess, for API keys sent directly', () => {
  it('declares the refusals of a key the gateway relays, with their challenges', () => {
    const documented = documentGatewayAccess(
      {
        ...document(),
        paths: {
          '/api/v1/findings': {
            get: {
              security: [{ bearer: [] }],
              responses: {
                200: { description: 'page' },
                401: { description: 'error: missing_token, invalid_token', headers: {} },
              },
            },
          },
        },
      },
      access,
    );
    const responses = (
      documented.paths['/api/v1/findings'] as {
        get: {
          responses: Record<
            string,
            { description: string; headers?: Record<string, { description: string }> }
          >;
        };
      }
    ).get.responses;
    expect(responses[401]?.description).toBe(
      'error: missing_token, invalid_token, unauthorized, invalid_api_key, api_key_revoked, key_expired, ' +
        'api_key_disabled',
    );
    expect(responses[401]?.headers?.['WWW-Authenticate']?.description).toContain(
      '`ApiKey realm="gatehouse", header="X-API-Key", error="invalid_key"`',
    );
    expect(responses[403]?.description).toBe('error: ip_not_allowed');
    expect(responses[404]?.description).toBe('error: api_key_not_found');
  });
});

describe('documentGatewayAnswers', () => {
  it('declares the 502 and 504 of the gateway on every operation, and its 413 where there is a body', () => {
    const documented = documentGatewayAnswers(document());
    for (const [path, method] of [
      ['/api/v1/auth/m2m/authenticate', 'post'],
      ['/api/v1/auth/jwks', 'get'],
      ['/api/v1/findings', 'post'],
    ] as const) {
      const responses = (documented.paths[path] as Record<string, { responses: Record<string, unknown> }>)[
        method
      ]?.responses;
      expect(responses?.[502]).toEqual({
        description: expect.stringMatching(/^error: bad_gateway \(from the gateway/),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
      });
      expect(responses?.[504]).toMatchObject({
        description: expect.stringMatching(/^error: gateway_timeout/),
      });
      expect(responses?.[413]).toBeUndefined();
    }
    const upload = documentGatewayAnswers({
      ...document(),
      paths: { '/u': { post: { requestBody: { content: {} }, responses: {} } } },
    }).paths['/u'] as { post: { responses: Record<string, { description: string }> } };
    expect(upload.post.responses[413]?.description).toMatch(/^error: payload_too_large/);
  });
});

describe('addErrorResponses', () => {
  it('adds codes to the response of their status, keeping what follows the list and leaving others alone', () => {
    const operation = {
      responses: {
        429: { description: 'error: rate_limit_exceeded (retry later)' },
        400: { description: 'Something hand-written' },
      } as Record<string, { description: string; headers?: Record<string, unknown> }>,
    };
    addErrorResponses(operation, ['rate_limit_exceeded', 'bad_request', 'missing_token']);
    expect(operation.responses[429]?.description).toBe('error: rate_limit_exceeded (retry later)');
    expect(operation.responses[400]?.description).toBe('Something hand-written');
    expect(operation.responses[401]?.description).toBe('error: missing_token');
    expect(operation.responses[401]?.headers).toHaveProperty('WWW-Authenticate');
  });
});
