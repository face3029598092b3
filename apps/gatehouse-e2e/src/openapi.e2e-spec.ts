import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PERMISSIONS } from '@gatehouse/contracts';
import {
  request,
  startService,
  startSuite,
  WORKSPACE_ROOT,
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
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<
    string,
    {
      description: string;
      headers?: Record<string, { required?: boolean; schema?: Schema }>;
      content?: Record<string, { schema: Schema }>;
    }
  >;
  [field: string]: unknown;
}

interface Document {
  openapi: string;
  info: { title: string; version: string; license?: { name: string; identifier?: string } };
  servers?: { url: string }[];
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

/** What a browser sends when a link to /api/docs is followed. */
const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

/** Every operation of the document with its path and method. */
function operationsOf(document: Document): { path: string; method: string; operation: Operation }[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ path, method, operation })),
  );
}

/** Runs a Node CLI installed in the repository; resolves with what it printed on stdout. */
function runTool(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(WORKSPACE_ROOT, 'node_modules', script), ...args], {
      cwd: WORKSPACE_ROOT,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0 || stdout.includes('{')) resolve(stdout);
      else reject(new Error(`${script} exited with ${code}: ${stderr}`));
    });
  });
}

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; severity: string; message: string }[];
}

/** The document written to a file of a temporary directory, for the CLIs. */
function withDocumentFile<T>(
  document: Document,
  use: (file: string, directory: string) => Promise<T>,
): Promise<T> {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-openapi-'));
  const file = join(directory, 'openapi.json');
  writeFileSync(file, JSON.stringify(document));
  return use(file, directory).finally(() => rmSync(directory, { recursive: true, force: true }));
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

  it('is an OpenAPI 3.1 JSON document at /api/docs/openapi.json, and at /api/docs for any client but a browser', async () => {
    const response = await fetch(`${gateway}/api/docs/openapi.json`, { headers: { accept: BROWSER_ACCEPT } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('public, max-age=60');
    // The JSON keeps the API's strict policy: only the page has a policy of its own.
    expect(response.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
    expect(await response.json()).toEqual(document);
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toMatchObject({ title: 'Gatehouse API', version: expect.any(String) });

    for (const path of ['/api/docs', '/api/docs/']) {
      for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/plain, */*']) {
        const answer = await fetch(`${gateway}${path}`, { headers: accept ? { accept } : {} });
        expect({ path, accept, status: answer.status, type: answer.headers.get('content-type') }).toEqual({
          path,
          accept,
          status: 200,
          type: 'application/json; charset=utf-8',
        });
        expect(answer.headers.get('vary')).toMatch(/\bAccept\b/);
        expect(await answer.json()).toEqual(document);
      }
    }
  });

  it('serves browsers a reference page at /api/docs and /api/docs/, with its own policy and its script from the gateway', async () => {
    for (const path of ['/api/docs', '/api/docs/']) {
      const page = await fetch(`${gateway}${path}`, { headers: { accept: BROWSER_ACCEPT } });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('vary')).toMatch(/\bAccept\b/);
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      const policy = page.headers.get('content-security-policy') ?? '';
      expect(policy.split('; ')).toEqual(
        expect.arrayContaining([
          "default-src 'none'",
          "script-src 'self'",
          "connect-src 'self'",
          "frame-ancestors 'none'",
        ]),
      );
      const html = await page.text();
      // Nothing is loaded from anywhere else: no absolute URL at all, and no inline script to allow.
      expect(html).not.toMatch(/https?:\/\//);
      const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.every(([, , content]) => content === '')).toBe(true);
      const sources = scripts.flatMap(
        ([, attributes]) => /\bsrc="([^"]+)"/.exec(attributes ?? '')?.[1] ?? [],
      );
      expect(sources).toEqual([
        expect.stringMatching(/^\/api\/docs\/assets\/scalar-api-reference\.[0-9a-f]{16}\.js$/),
      ]);
      expect(html).toContain('/api/docs/openapi.json');

      const script = await fetch(`${gateway}${sources[0]}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(script.headers.get('content-encoding')).toBe('gzip');
      expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const code = await script.text();
      expect(code.length).toBeGreaterThan(1_000_000);
      expect(code).toContain('createApiReference');
    }
    const unknown = await request(`${gateway}/api/docs/assets/scalar-api-reference.0000000000000000.js`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'not_found' });
  });

  it("passes Redocly's recommended ruleset without an error", async () => {
    const report = await withDocumentFile(document, async (file) => {
      const printed = await runTool('@redocly/cli/bin/cli.js', [
        'lint',
        '--extends',
        'recommended',
        '--format',
        'json',
        file,
      ]);
      return JSON.parse(printed.slice(printed.indexOf('{'))) as LintReport;
    });
    const errors = report.problems.filter((problem) => problem.severity === 'error');
    expect(errors.map((problem) => `${problem.ruleId}: ${problem.message}`)).toEqual([]);
    expect(report.totals.errors).toBe(0);
  });

  it('names its server, its license and the security of every operation, public ones included', () => {
    expect(document.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    expect(document.info.license).toEqual({ name: expect.any(String), identifier: expect.any(String) });
    for (const { path, method, operation } of operationsOf(document)) {
      expect({ path, method, security: Array.isArray(operation.security) }).toEqual({
        path,
        method,
        security: true,
      });
    }
    expect(document.paths['/api/v1/auth/jwks']?.['get']?.security).toEqual([]);
    // Signed by a secret scanner, per body, in its headers: no credential of the caller's own.
    expect(document.paths['/api/v1/leaked-keys']?.['post']?.security).toEqual([]);
  });

  it('declares what the gateway answers itself: 502 and 504 everywhere, 413 with a body, WWW-Authenticate on 401', () => {
    for (const { path, method, operation } of operationsOf(document)) {
      const declared = Object.keys(operation.responses);
      const expected = ['502', '504', ...(operation.requestBody ? ['413'] : [])];
      expect({ path, method, missing: expected.filter((status) => !declared.includes(status)) }).toEqual({
        path,
        method,
        missing: [],
      });
      for (const status of expected) {
        expect(operation.responses[status]?.content?.['application/json']?.schema).toEqual({
          $ref: '#/components/schemas/ErrorBody',
        });
      }
      const unauthorized = operation.responses['401'];
      if (unauthorized) {
        expect({ path, method, header: unauthorized.headers?.['WWW-Authenticate'] }).toEqual({
          path,
          method,
          header: {
            description: expect.stringContaining('realm'),
            required: true,
            schema: { type: 'string' },
          },
        });
      }
    }
  });

  it('writes nullable values the 3.1 way: null among the types, or anyOf with null for a referenced object', () => {
    expect(JSON.stringify(document)).not.toContain('"nullable"');
    expect(schema('ApiKey').properties?.['rotation']).toEqual({
      anyOf: [{ $ref: '#/components/schemas/ApiKeyRotation' }, { type: 'null' }],
    });
    expect(schema('Finding').properties?.['location']).toMatchObject({
      anyOf: [{ $ref: '#/components/schemas/FindingLocation' }, { type: 'null' }],
    });
    expect(schema('ApiKey').properties?.['expires_at']).toMatchObject({
      type: ['string', 'null'],
      format: 'date-time',
    });
  });

  it('generates, with openapi-typescript at its default settings, a client whose optional fields stay optional', async () => {
    // The CLI as a user runs it (`npx openapi-typescript openapi.json -o schema.d.ts`), no option given.
    const types = await withDocumentFile(document, async (file, directory) => {
      const output = join(directory, 'schema.d.ts');
      await runTool('openapi-typescript/bin/cli.js', [file, '-o', output]);
      return readFileSync(output, 'utf8');
    });
    const body = (name: string) => {
      const start = types.indexOf(`        ${name}: {`);
      return types.slice(start, types.indexOf('\n        };', start));
    };
    expect(body('CreateApiKeyDto')).toMatch(/\n\s+name: string;/);
    for (const field of ['expires_at', 'environment', 'allowed_ips']) {
      expect(body('CreateApiKeyDto')).toMatch(new RegExp(`\\n\\s+${field}\\?:`));
    }
    expect(body('RotateApiKeyDto')).toMatch(/\n\s+grace_period_seconds\?: number;/);
    expect(body('ApiKey')).toMatch(/\n\s+rotation: components\["schemas"\]\["ApiKeyRotation"\] \| null;/);

    // In general: a property of a request body schema is required exactly where the document says so.
    const requestSchemas = new Set(
      operationsOf(document).flatMap(({ operation }) =>
        Object.values(operation.requestBody?.content ?? {}).flatMap(({ schema: body }) =>
          refsIn(body).map((ref) => ref.replace('#/components/schemas/', '')),
        ),
      ),
    );
    expect(requestSchemas.size).toBeGreaterThan(5);
    for (const name of requestSchemas) {
      const { properties = {}, required = [] } = schema(name);
      for (const [property, definition] of Object.entries(properties)) {
        if (!required.includes(property))
          expect({ name, property, default: definition['default'] }).toEqual({
            name,
            property,
            default: undefined,
          });
      }
    }
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
      'me',
      'scans',
      'webhooks',
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
    expect(create.properties?.['environment']).toMatchObject({
      enum: ['live', 'test'],
      description: expect.stringContaining('Default: live'),
    });

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
