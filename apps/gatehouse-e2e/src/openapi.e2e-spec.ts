import { createServer } from 'node:net';
import { PERMISSIONS } from '@gatehouse/contracts';
import {
  request,
  startService,
  startSuite,
  type BootstrapOutput,
  type RunningSuite,
  type ServiceProcess,
} from '@gatehouse/testing';

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: string[];
  $ref?: string;
  [keyword: string]: unknown;
}

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
  [field: string]: unknown;
}

interface Document {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Schema>;
    securitySchemes: Record<string, Record<string, unknown>>;
  };
  tags: { name: string }[];
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** Every `$ref` string anywhere in a JSON value. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) =>
    key === '$ref' && typeof item === 'string' ? [item] : refsIn(item),
  );
}

/** Follows a local JSON pointer (`#/components/schemas/X`); undefined when it leads nowhere. */
function resolvePointer(document: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>(
      (node, token) =>
        typeof node === 'object' && node !== null && Object.hasOwn(node, token)
          ? (node as Record<string, unknown>)[token]
          : undefined,
      document,
    );
}

/** Reserves a port nobody listens on. */
const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

/**
 * The OpenAPI document the gateway serves at /api/docs: merged from the three services' own documents, which
 * are generated from their controllers and DTOs, and usable by a client generator.
 */
describe('OpenAPI document through the gateway', () => {
  let suite: RunningSuite;
  let gateway: string;
  let owner: BootstrapOutput;
  let document: Document;

  const schema = (name: string): Schema => {
    const found = document.components.schemas[name];
    if (!found) throw new Error(`no schema ${name}`);
    return found;
  };

  /** The schema of a response, following one `$ref`. */
  const responseSchema = (path: string, method: string, status: string): Schema => {
    const content = document.paths[path]?.[method]?.responses[status]?.content?.['application/json'];
    if (!content) throw new Error(`no JSON response ${status} for ${method.toUpperCase()} ${path}`);
    return content.schema.$ref ? (resolvePointer(document, content.schema.$ref) as Schema) : content.schema;
  };

  beforeAll(async () => {
    suite = await startSuite();
    gateway = suite.gateway.url;
    owner = await suite.bootstrap('openapi-docs');
    const response = await request<Document>(`${gateway}/api/docs`);
    expect(response.status).toBe(200);
    document = response.body;
  });

  afterAll(async () => {
    await suite?.stop();
  });

  it('is an OpenAPI 3 JSON document served by the gateway, also at /api/docs/openapi.json', async () => {
    const response = await fetch(`${gateway}/api/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('public, max-age=60');
    expect(document.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(document.info).toMatchObject({ title: 'Gatehouse API', version: expect.any(String) });

    const alias = await request<Document>(`${gateway}/api/docs/openapi.json`);
    expect(alias.status).toBe(200);
    expect(alias.body).toEqual(document);
  });

  it('covers the public routes of the three services, and nothing the gateway does not forward', () => {
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((method) => METHODS.includes(method))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /api/v1/auth/m2m/authenticate',
        'GET /api/v1/auth/jwks',
        'POST /api/v1/findings',
        'GET /api/v1/findings',
        'POST /api/v1/api-keys',
        'GET /api/v1/api-keys',
        'GET /api/v1/api-keys/{id}',
        'DELETE /api/v1/api-keys/{id}',
        'GET /api/v1/api-keys/{id}/usage',
        'POST /api/v1/api-keys/{id}/rotate',
        'POST /api/v1/api-keys/{id}/rotate/finish',
        'POST /api/v1/api-keys/{id}/revoke',
        'GET /api/v1/audit-events',
        'GET /api/v1/audit-events/export',
      ]),
    );
    // Health checks and the services' own /openapi.json are not routes of the gateway.
    expect(Object.keys(document.paths).every((path) => path.startsWith('/api/v1/'))).toBe(true);
    expect(document.tags.map((tag) => tag.name).sort()).toEqual([
      'api-keys',
      'audit-events',
      'auth',
      'findings',
      'scans',
    ]);
  });

  it('describes CreateApiKeyDto with the limits its validation enforces', () => {
    const create = schema('CreateApiKeyDto');
    expect(create.required).toEqual(expect.arrayContaining(['name', 'client_id', 'permissions']));
    expect(create.required).not.toContain('expires_at');
    expect(create.properties?.['name']).toMatchObject({ type: 'string', minLength: 1, maxLength: 100 });
    expect(create.properties?.['client_id']).toMatchObject({
      type: 'string',
      minLength: 3,
      maxLength: 50,
      pattern: '^[A-Za-z0-9._-]{3,50}$',
    });
    expect(create.properties?.['permissions']).toMatchObject({
      type: 'array',
      minItems: 1,
      maxItems: PERMISSIONS.length,
      uniqueItems: true,
      items: { type: 'string', enum: [...PERMISSIONS] },
    });
    expect(create.properties?.['expires_at']).toMatchObject({ type: 'string', format: 'date-time' });
    expect(create.properties?.['environment']).toMatchObject({ enum: ['live', 'test'] });

    const requestBody = document.paths['/api/v1/api-keys']?.['post']?.['requestBody'];
    expect(requestBody).toMatchObject({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateApiKeyDto' } } },
    });
  });

  it('resolves every $ref inside the document', () => {
    const refs = [...new Set(refsIn(document))];
    expect(refs.length).toBeGreaterThan(10);
    const dangling = refs.filter((ref) => resolvePointer(document, ref) === undefined);
    expect(dangling).toEqual([]);
  });

  it('gives every operation a unique operationId, described responses and declared security schemes', () => {
    const operations = Object.values(document.paths).flatMap((item) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([, operation]) => operation),
    );
    const ids = operations.map((operation) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const operation of operations) {
      for (const response of Object.values(operation.responses))
        expect(typeof response.description).toBe('string');
      for (const requirement of operation.security ?? []) {
        for (const name of Object.keys(requirement))
          expect(document.components.securitySchemes[name]).toBeDefined();
      }
    }
    expect(document.components.securitySchemes['bearer']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.components.securitySchemes['api_key']).toMatchObject({
      type: 'apiKey',
      in: 'header',
      name: 'X-API-Key',
    });
    expect(document.paths['/api/v1/auth/m2m/authenticate']?.['post']?.security).toEqual([{ api_key: [] }]);
    // The gateway takes an API key directly wherever a token is taken (direct key authentication).
    expect(document.paths['/api/v1/api-keys']?.['post']?.security).toEqual([{ bearer: [] }, { api_key: [] }]);
    expect(document.paths['/api/v1/auth/jwks']?.['get']?.security).toBeUndefined();
  });

  it('documents the rate limits the gateway applies: the headers, and a 429 on every limited operation', () => {
    for (const [path, method] of [
      ['/api/v1/auth/m2m/authenticate', 'post'],
      ['/api/v1/findings', 'post'],
      ['/api/v1/api-keys', 'get'],
    ]) {
      const operation = document.paths[path]?.[method] as {
        responses: Record<string, { headers?: Record<string, unknown> }>;
      };
      expect(operation.responses['429']?.headers).toHaveProperty('Retry-After');
      const success = Object.entries(operation.responses).find(([status]) => status.startsWith('2'));
      expect(Object.keys(success?.[1].headers ?? {})).toEqual(
        expect.arrayContaining(['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']),
      );
    }
    expect(document.paths['/api/v1/auth/jwks']?.['get']?.responses['429']).toBeUndefined();
  });

  it('describes errors once, as the suite-wide ErrorBody, and refers to it from error responses', () => {
    const error = schema('ErrorBody');
    expect(error.required).toEqual(['error', 'message', 'request_id']);
    expect(error.properties?.['error']?.enum).toEqual(
      expect.arrayContaining(['validation_failed', 'bad_gateway']),
    );
    expect(document.paths['/api/v1/api-keys']?.['post']?.responses['401']?.content).toEqual({
      'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } },
    });
    expect(responseSchema('/api/v1/api-keys', 'post', '403')).toBe(error);
    expect(responseSchema('/api/v1/auth/m2m/authenticate', 'post', '401')).toBe(error);
  });

  it('matches what the routes actually return', async () => {
    const issued = await request(`${gateway}/api/v1/auth/m2m/authenticate`, {
      method: 'POST',
      headers: { 'x-api-key': owner.api_key },
      body: { client_id: owner.client_id },
    });
    expect(issued.status).toBe(200);
    const tokenSchema = responseSchema('/api/v1/auth/m2m/authenticate', 'post', '200');
    expect(Object.keys(issued.body).sort()).toEqual(Object.keys(tokenSchema.properties ?? {}).sort());

    const created = await request(`${gateway}/api/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${issued.body['access_token'] as string}` },
      body: { name: 'Docs check', client_id: 'docs-check', permissions: ['read:findings'] },
    });
    expect(created.status).toBe(201);
    const createdSchema = responseSchema('/api/v1/api-keys', 'post', '201');
    expect(Object.keys(created.body).sort()).toEqual(Object.keys(createdSchema.properties ?? {}).sort());
    expect(Object.keys(created.body).sort()).toEqual([...(createdSchema.required ?? [])].sort());

    const refused = await request(`${gateway}/api/v1/api-keys`);
    expect(refused.status).toBe(401);
    const errorSchema = responseSchema('/api/v1/api-keys', 'get', '401');
    expect(Object.keys(errorSchema.properties ?? {})).toEqual(
      expect.arrayContaining(Object.keys(refused.body)),
    );
    expect(errorSchema.properties?.['error']?.enum).toContain(refused.body['error']);
  });

  it('does not expose the services’ own documents through the gateway', async () => {
    const response = await request(`${gateway}/openapi.json`);
    expect(response.status).toBe(404);
    const direct = await request<Document>(`${suite.admin.url}/openapi.json`);
    expect(direct.status).toBe(200);
    expect(direct.body.info.title).toBe('Gatehouse admin-api');
  });

  describe('with an upstream down', () => {
    let broken: ServiceProcess;

    beforeAll(async () => {
      broken = await startService('api-gateway', {
        ...suite.env,
        AUTH_SERVICE_URL: suite.auth.url,
        FINDINGS_SERVICE_URL: suite.findings[0].url,
        ADMIN_API_URL: `http://127.0.0.1:${await closedPort()}`,
        UPSTREAM_TIMEOUT_MS: '2000',
      });
    });

    afterAll(async () => {
      await broken?.stop();
    });

    it('answers 502 in the suite’s error shape', async () => {
      const response = await request(`${broken.url}/api/docs`);
      expect(response.status).toBe(502);
      expect(response.body).toEqual({
        error: 'bad_gateway',
        message: expect.any(String),
        request_id: response.headers.get('x-request-id'),
      });
    });
  });
});
