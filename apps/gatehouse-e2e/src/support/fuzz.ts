import { Agent, request as httpRequest } from 'node:http';
import fc from 'fast-check';

/**
 * The fuzz tier's parts: a raw HTTP client that sends exactly the bytes it is given (fetch would normalise paths
 * and refuse odd headers), the operations of an OpenAPI document, and generators of hostile input.
 */

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/** Longer than any answer should take on two shared cores: a request still open by then counts as a hang. */
export const HANG_MS = 15_000;

export function rawRequest(baseUrl: string, init: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: init.method,
        path: init.path,
        headers: init.headers,
        // The path is sent as given: percent-encodings, dot segments and all.
        insecureHTTPParser: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(HANG_MS, () =>
      req.destroy(new Error(`no answer within ${HANG_MS} ms: ${init.method} ${init.path}`)),
    );
    req.on('error', reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

export function closeFuzzAgent(): void {
  agent.destroy();
}

/** What every answer to client input must be: a 4xx (or success) in the one error shape, never a 5xx. */
export function problemsWith(response: RawResponse, method: string): string[] {
  const problems: string[] = [];
  if (response.status >= 500) problems.push(`status ${response.status}`);
  if (response.status >= 400 && method !== 'HEAD') {
    let body: unknown;
    try {
      body = JSON.parse(response.text);
    } catch {
      problems.push(`a ${response.status} whose body is not JSON: ${response.text.slice(0, 200)}`);
    }
    const shape = body as { error?: unknown; message?: unknown; request_id?: unknown } | undefined;
    if (
      body !== undefined &&
      (typeof shape?.error !== 'string' ||
        typeof shape.message !== 'string' ||
        typeof shape.request_id !== 'string')
    ) {
      problems.push(`a ${response.status} outside the error shape: ${response.text.slice(0, 200)}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// The OpenAPI document

type Schema = Record<string, unknown>;

export interface Operation {
  method: string;
  /** The path template, e.g. /api/v1/api-keys/{id}. */
  path: string;
  pathParams: string[];
  queryParams: { name: string; schema: Schema }[];
  /** A body the schema accepts, when the operation takes one. */
  exampleBody?: unknown;
  bodySchema?: Schema;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: Schema[]; requestBody?: Schema }>>;
  components?: { schemas?: Record<string, Schema> };
}

export function operationsOf(document: OpenApiDocument): Operation[] {
  const resolve = (schema: Schema | undefined): Schema | undefined => {
    const ref = schema?.['$ref'];
    if (typeof ref !== 'string') return schema;
    return resolve(document.components?.schemas?.[ref.replace('#/components/schemas/', '')]);
  };
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'delete', 'patch'].includes(method)) continue;
      const parameters = (operation.parameters ?? []).map((parameter) => resolve(parameter) as Schema);
      const content = (resolve(operation.requestBody)?.['content'] ?? {}) as Record<
        string,
        { schema?: Schema }
      >;
      const bodySchema = resolve(content['application/json']?.schema);
      operations.push({
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p['in'] === 'path').map((p) => String(p['name'])),
        queryParams: parameters
          .filter((p) => p['in'] === 'query')
          .map((p) => ({ name: String(p['name']), schema: resolve(p['schema'] as Schema) ?? {} })),
        bodySchema,
        exampleBody: bodySchema ? exampleOf(bodySchema, resolve) : undefined,
      });
    }
  }
  return operations;
}

/** A value the schema accepts, from its examples, enums and bounds: the base that one mutation at a time spoils. */
function exampleOf(
  schema: Schema,
  resolve: (schema: Schema | undefined) => Schema | undefined,
  depth = 0,
): unknown {
  const resolved = resolve(schema) ?? {};
  if (resolved['example'] !== undefined) return resolved['example'];
  if (Array.isArray(resolved['enum'])) return resolved['enum'][0];
  const allOf = resolved['allOf'];
  if (Array.isArray(allOf) && allOf.length > 0) return exampleOf(allOf[0] as Schema, resolve, depth + 1);
  switch (resolved['type']) {
    case 'object': {
      const properties = (resolved['properties'] ?? {}) as Record<string, Schema>;
      const required = new Set((resolved['required'] as string[] | undefined) ?? []);
      const value: Record<string, unknown> = {};
      for (const [name, property] of Object.entries(properties)) {
        if (required.has(name) || depth === 0) value[name] = exampleOf(property, resolve, depth + 1);
      }
      return value;
    }
    case 'array':
      return [exampleOf((resolved['items'] as Schema | undefined) ?? {}, resolve, depth + 1)];
    case 'integer':
    case 'number':
      return typeof resolved['minimum'] === 'number' ? resolved['minimum'] : 1;
    case 'boolean':
      return true;
    default:
      return resolved['format'] === 'date-time'
        ? new Date(Date.now() + 86_400_000).toISOString()
        : 'fuzz-value';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile input

/** Strings that PostgreSQL, validators, parsers or routers have tripped on. */
export const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  'x\uDFFFy',
  '\uDBFF\uDBFF',
  '\uFFFE',
  '\u202E',
  '%00',
  '%2e%2e%2f',
  '../../etc/passwd',
  '..%2F..%2F',
  '%',
  '%zz',
  '%C0%AE',
  '\r\nX-Injected: 1',
  '<script>alert(1)</script>',
  "' OR '1'='1",
  '"; DROP TABLE api_keys; --',
  '${jndi:ldap://x}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  '1e309',
  '-0',
  'NaN',
  '9223372036854775808',
  '-9223372036854775809',
  '99999-12-31T00:00:00.000Z',
  '0000-00-00',
  'gth_live_' + 'A'.repeat(43),
  'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
  'ﬀ'.repeat(3),
  '😀'.repeat(5),
];

export const nastyString = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('a', '\u0000', '\uD800', '%', 'é'), fc.integer({ min: 200, max: 20_000 }))
        .map(([unit, times]) => unit.repeat(times)),
    },
  );

/** Any JSON-ish value, including the ones JSON.stringify cannot round-trip faithfully. */
export const nastyValue = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 3, arbitrary: nastyString() },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        null,
        true,
        false,
        0,
        -1,
        1.5,
        2 ** 53 + 1,
        -(2 ** 63),
        1e308,
        [],
        {},
        [null],
        { __proto__: { polluted: true } },
      ),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.array(nastyString(), { maxLength: 5 }) },
    { weight: 1, arbitrary: fc.dictionary(nastyString(), nastyString(), { maxKeys: 4 }) },
  );

/** Bodies that are not a JSON document of the right shape at all; strings are sent as they are. */
export const nastyRawBody = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(
      '',
      '{',
      '}',
      'null',
      '[]',
      '"x"',
      '{"a":1,"a":2}',
      '{"__proto__":{"admin":true}}',
      '{"constructor":{"prototype":{"admin":true}}}',
      '\uFEFF{}',
      '{"x":"\\u0000"}',
      '{"x":"\\ud800"}',
      '{"\\u0000":1}',
      '[1,2,3,]',
      '{"x":1e999999}',
      '{"x":-0}',
      'NaN',
    ),
    fc.integer({ min: 100, max: 20_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
    fc.integer({ min: 100, max: 20_000 }).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
    fc.integer({ min: 100, max: 20_000 }).map((depth) => '['.repeat(depth)),
    fc.string({ unit: 'binary', maxLength: 200 }),
  );

export const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/json;;',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/sarif+json',
  '*/*',
  'garbage',
];

/** A path segment: ids that exist, ids of nobody, and everything a router or a cast could choke on. */
export const nastySegment = (realIds: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...realIds) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 3, arbitrary: nastyString().map((value) => encodeURIComponent(toWellFormed(value))) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '%00',
        '%2F',
        '%2e',
        '%2e%2e',
        '..',
        '.',
        '%',
        '%zz',
        '%C0%AE',
        '%ED%A0%80',
        '%FF',
        'a'.repeat(500),
        '00000000-0000-0000-0000-000000000000',
        'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ',
      ),
    },
  );

/** Lone surrogates cannot be percent-encoded; replace them so that the rest of the string still goes out. */
function toWellFormed(value: string): string {
  return value.replace(/[\uD800-\uDFFF]/g, (unit, index: number, whole: string) => {
    const code = unit.charCodeAt(0);
    const next = whole.charCodeAt(index + 1);
    const previous = whole.charCodeAt(index - 1);
    const paired =
      (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) ||
      (code >= 0xdc00 && previous >= 0xd800 && previous <= 0xdbff);
    return paired ? unit : '\uFFFD';
  });
}

/** Query strings: the declared parameters with hostile values, unknown ones, repeats, raw and broken encodings. */
export const nastyQuery = (names: string[]): fc.Arbitrary<string> =>
  fc
    .array(
      fc.tuple(
        fc.oneof(
          { weight: 3, arbitrary: names.length > 0 ? fc.constantFrom(...names) : fc.constant('x') },
          { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'a[b]', 'x', '') },
        ),
        fc.oneof(
          { weight: 3, arbitrary: nastyString().map((value) => encodeURIComponent(toWellFormed(value))) },
          { weight: 1, arbitrary: fc.constantFrom('%00', '%', '%zz', '%ED%A0%80', '%FF%FE', 'a%00b') },
        ),
      ),
      { maxLength: 4 },
    )
    .map((pairs) => pairs.map(([name, value]) => `${name}=${value}`).join('&'));
