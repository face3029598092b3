import { ResponseConformance, type ConformanceDocument } from './openapi-conformance';

const document: ConformanceDocument = {
  openapi: '3.1.0',
  paths: {
    '/keys/{id}': {
      get: {
        responses: {
          200: {
            description: 'The key',
            headers: { 'X-RateLimit-Limit': { schema: { type: 'integer' } } },
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Key' } } },
          },
          401: {
            description: 'error: missing_token',
            headers: { 'WWW-Authenticate': { required: true, schema: { type: 'string' } } },
            content: { 'application/json': { schema: { type: 'object' } } },
          },
          204: { description: 'Nothing' },
        },
      },
    },
  },
  components: {
    schemas: {
      Key: {
        type: 'object',
        required: ['id', 'rotation', 'expires_at'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          rotation: { anyOf: [{ $ref: '#/components/schemas/Rotation' }, { type: 'null' }] },
          expires_at: { type: ['string', 'null'], format: 'date-time', example: '2030-01-01T00:00:00Z' },
        },
      },
      Rotation: { type: 'object', required: ['at'], properties: { at: { type: 'string' } } },
    },
  },
};

const ID = '0b0e4c8e-3f5e-4c4e-9d1a-6b1f2a3c4d5e';

function received(status: number, body: unknown, headers: Record<string, string> = {}) {
  return {
    status,
    headers: new Headers({ 'content-type': 'application/json; charset=utf-8', ...headers }),
    text: body === undefined ? '' : JSON.stringify(body),
  };
}

describe('ResponseConformance', () => {
  const conformance = new ResponseConformance(document);
  const problems = (status: number, body: unknown, headers?: Record<string, string>) =>
    conformance.problems('GET', '/keys/{id}', received(status, body, headers));

  it('accepts a conforming body, null or an object where the schema allows either', () => {
    expect(problems(200, { id: ID, rotation: null, expires_at: null })).toEqual([]);
    expect(problems(200, { id: ID, rotation: { at: 'now' }, expires_at: '2030-01-01T00:00:00Z' })).toEqual(
      [],
    );
    expect(problems(204, undefined, {})).toEqual([]);
  });

  it('reports a missing required field, a wrong type, a bad format and an undeclared property', () => {
    expect(problems(200, { id: ID, expires_at: null })).toEqual([
      expect.stringContaining("must have required property 'rotation'"),
    ]);
    expect(problems(200, { id: ID, rotation: { at: 1 }, expires_at: null }).join()).toContain('/rotation');
    expect(problems(200, { id: 'not-a-uuid', rotation: null, expires_at: null })).toEqual([
      expect.stringContaining('must match format "uuid"'),
    ]);
    expect(problems(200, { id: ID, rotation: null, expires_at: null, secret: 'x' })).toEqual([
      expect.stringContaining('must NOT have additional properties'),
    ]);
  });

  it('reports an undeclared status, a missing required header, a non-integer integer header and a media type', () => {
    expect(problems(404, { error: 'not_found' })).toEqual([expect.stringContaining('status not declared')]);
    expect(problems(401, {})).toEqual([expect.stringContaining('required header WWW-Authenticate missing')]);
    expect(problems(401, {}, { 'www-authenticate': 'Bearer realm="gatehouse"' })).toEqual([]);
    expect(
      problems(200, { id: ID, rotation: null, expires_at: null }, { 'x-ratelimit-limit': 'many' }),
    ).toEqual([expect.stringContaining('header X-RateLimit-Limit is not an integer')]);
    expect(problems(200, 'x', { 'content-type': 'text/plain' })).toEqual([
      expect.stringContaining('media type text/plain not declared'),
    ]);
  });

  it('validates a value against a named schema', () => {
    expect(conformance.schemaProblems('Rotation', { at: 'now' })).toEqual([]);
    expect(conformance.schemaProblems('Rotation', {})).toEqual([expect.stringContaining("'at'")]);
  });
});
