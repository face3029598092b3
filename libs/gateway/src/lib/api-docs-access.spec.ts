import type { OpenApiDocument } from './api-docs';
import { documentGatewayAccess } from './api-docs-access';

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
