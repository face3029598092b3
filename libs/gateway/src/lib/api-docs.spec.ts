import { mergeOpenApiDocuments, type OpenApiDocument } from './api-docs';

const info = { title: 'Gatehouse API', version: '1.0.0' };
const error = { type: 'object', properties: { error: { type: 'string' } } };
const bearer = { type: 'http', scheme: 'bearer' };

function document(title: string, fields: Partial<OpenApiDocument>): OpenApiDocument {
  return { openapi: '3.0.0', info: { title, version: '1.0.0' }, paths: {}, ...fields };
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

describe('mergeOpenApiDocuments', () => {
  it('keeps only the paths under the prefixes the gateway forwards to each upstream', () => {
    const merged = mergeOpenApiDocuments(info, [
      {
        document: document('auth', {
          paths: { '/api/v1/auth/jwks': { get: {} }, '/health/live': { get: {} } },
        }),
        prefixes: ['/api/v1/auth'],
      },
      {
        document: document('admin', {
          paths: {
            '/api/v1/api-keys': { get: {} },
            '/api/v1/audit-events': { get: {} },
            '/api/v1/authx': {},
          },
        }),
        prefixes: ['/api/v1/api-keys', '/api/v1/audit-events'],
      },
    ]);
    expect(Object.keys(merged.paths)).toEqual([
      '/api/v1/auth/jwks',
      '/api/v1/api-keys',
      '/api/v1/audit-events',
    ]);
    expect(merged.info).toBe(info);
    expect(merged.openapi).toBe('3.0.0');
  });

  it('names its server relative to where it is served, and states the license the upstreams state', () => {
    const license = { name: 'Proprietary (UNLICENSED)', identifier: 'LicenseRef-Proprietary' };
    const merged = mergeOpenApiDocuments(info, [
      { document: document('auth', {}), prefixes: ['/a'] },
      {
        document: { ...document('admin', {}), info: { title: 'admin', version: '1', license } },
        prefixes: ['/b'],
      },
    ]);
    expect(merged.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    expect(merged.info).toEqual({ ...info, license });
    const own = { name: 'MIT', identifier: 'MIT' };
    expect(
      mergeOpenApiDocuments({ ...info, license: own }, [
        {
          document: { ...document('auth', {}), info: { title: 'auth', version: '1', license } },
          prefixes: ['/a'],
        },
      ]).info.license,
    ).toEqual(own);
  });

  it('defines a component shared identically by several upstreams once, and unions the tags', () => {
    const merged = mergeOpenApiDocuments(info, [
      {
        document: document('auth', {
          tags: [{ name: 'auth' }],
          components: { schemas: { ErrorBody: error }, securitySchemes: { bearer } },
        }),
        prefixes: ['/a'],
      },
      {
        document: document('findings', {
          tags: [{ name: 'findings' }, { name: 'auth' }],
          components: {
            schemas: { ErrorBody: structuredClone(error) },
            securitySchemes: { bearer: { ...bearer } },
          },
        }),
        prefixes: ['/f'],
      },
    ]);
    expect(merged.components).toEqual({ schemas: { ErrorBody: error }, securitySchemes: { bearer } });
    expect(merged.tags).toEqual([{ name: 'auth' }, { name: 'findings' }]);
  });

  it('renames a component two upstreams define differently, with every reference to it and to its users', () => {
    const merged = mergeOpenApiDocuments(info, [
      {
        document: document('Gatehouse auth-service', {
          paths: {
            '/a/x': {
              get: { responses: { 200: { content: { 'application/json': { schema: ref('Page') } } } } },
            },
          },
          components: {
            schemas: {
              Page: { type: 'object', properties: { items: ref('Item') } },
              Item: { type: 'string' },
            },
            securitySchemes: { bearer },
          },
        }),
        prefixes: ['/a'],
      },
      {
        document: document('Gatehouse admin-api', {
          paths: {
            '/b/y': {
              get: {
                security: [{ bearer: [] }],
                responses: { 200: { content: { 'application/json': { schema: ref('Page') } } } },
              },
            },
          },
          components: {
            // Page is identical by content but points at a different Item: it must follow Item's rename.
            schemas: {
              Page: { type: 'object', properties: { items: ref('Item') } },
              Item: { type: 'integer' },
            },
            securitySchemes: { bearer: { type: 'apiKey', in: 'header', name: 'X-Token' } },
          },
        }),
        prefixes: ['/b'],
      },
    ]);
    expect(merged.components?.['schemas']).toEqual({
      Page: { type: 'object', properties: { items: ref('Item') } },
      Item: { type: 'string' },
      GatehouseAdminApiPage: { type: 'object', properties: { items: ref('GatehouseAdminApiItem') } },
      GatehouseAdminApiItem: { type: 'integer' },
    });
    expect(merged.components?.['securitySchemes']).toEqual({
      bearer,
      GatehouseAdminApibearer: { type: 'apiKey', in: 'header', name: 'X-Token' },
    });
    expect(merged.paths['/b/y']).toEqual({
      get: {
        security: [{ GatehouseAdminApibearer: [] }],
        responses: { 200: { content: { 'application/json': { schema: ref('GatehouseAdminApiPage') } } } },
      },
    });
    expect(merged.paths['/a/x']).toEqual({
      get: { responses: { 200: { content: { 'application/json': { schema: ref('Page') } } } } },
    });
  });
});
