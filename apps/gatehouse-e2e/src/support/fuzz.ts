import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
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

// ---------------------------------------------------------------------------------------------------------------
// Uploads (POST /api/v1/findings): spoiled SARIF and native documents, and the headers and query that go with them

type JsonObject = Record<string, unknown>;
type JsonKey = string | number;

/** The real scanners' SARIF of the ingest unit tests (libs/findings/src/lib/ingest/fixtures). */
const FIXTURE_DIRECTORY = join(__dirname, '../../../../libs/findings/src/lib/ingest/fixtures');

export const SARIF_FIXTURES: JsonObject[] = readdirSync(FIXTURE_DIRECTORY)
  .filter((name) => name.endsWith('.sarif'))
  .sort()
  .map((name) => JSON.parse(readFileSync(join(FIXTURE_DIRECTORY, name), 'utf8')) as JsonObject);

/**
 * Strings at and past the lengths of the columns they end in (200, 500, 1 000), spelled with characters that
 * JavaScript, PostgreSQL (code points) and validators (a character plus U+FE0F counts once) count differently.
 */
export const edgeString = (): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.constantFrom('a', 'é', '😀', 'a\uFE0F', '😀\uFE0F', ' ', '\u0000', '\uD800'),
      fc.constantFrom(99, 100, 101, 199, 200, 201, 251, 499, 500, 501, 1_001),
      fc.constantFrom('', 'a'),
    )
    .map(([unit, times, prefix]) => prefix + unit.repeat(times));

/**
 * Text of a generated document: mostly what a scanner writes, so that most documents are valid and get as far as
 * the database, and now and then hostile or at the edge of a column's length.
 */
const uploadText = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.stringMatching(/^[a-z][a-z0-9/._-]{0,20}$/) },
    { weight: 1, arbitrary: nastyString() },
    { weight: 2, arbitrary: edgeString() },
  );

const HOSTILE_LINE_NUMBERS: unknown[] = [0, -1, 1.5, 2 ** 31, 1e7 + 1, 1e308, '12', null];

const lineNumber = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 10_000 }) },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_LINE_NUMBERS) },
  );

const generatedSarif = (): fc.Arbitrary<JsonObject> =>
  fc
    .record({
      tool: uploadText(),
      ruleIds: fc.array(uploadText(), { minLength: 1, maxLength: 3 }),
      repository: fc.option(uploadText(), { nil: undefined }),
      results: fc.array(
        fc.record({
          rule: fc.nat(),
          uri: uploadText(),
          line: lineNumber(),
          message: uploadText(),
          level: fc.constantFrom('error', 'warning', 'note', 'none', 'critical'),
          fingerprint: fc.option(uploadText(), { nil: undefined }),
        }),
        { maxLength: 5 },
      ),
    })
    .map(({ tool, ruleIds, repository, results }) => ({
      version: '2.1.0',
      runs: [
        {
          tool: {
            driver: { name: tool, rules: ruleIds.map((id) => ({ id, shortDescription: { text: id } })) },
          },
          ...(repository !== undefined && {
            versionControlProvenance: [{ repositoryUri: repository, branch: 'main' }],
          }),
          results: results.map((result) => ({
            ruleId: ruleIds[result.rule % ruleIds.length],
            ruleIndex: result.rule % ruleIds.length,
            level: result.level,
            message: { text: result.message },
            locations: [
              {
                physicalLocation: {
                  artifactLocation: { uri: result.uri },
                  region: { startLine: result.line },
                },
              },
            ],
            ...(result.fingerprint !== undefined && { partialFingerprints: { hash: result.fingerprint } }),
          })),
        },
      ],
    }));

const generatedNative = (): fc.Arbitrary<JsonObject> =>
  fc
    .array(
      fc.record(
        {
          rule_id: uploadText(),
          title: uploadText(),
          severity: fc.constantFrom('critical', 'high', 'medium', 'low', 'info', 'low', 'severe'),
          location: fc.record({ path: uploadText(), start_line: lineNumber() }, { requiredKeys: ['path'] }),
          description: uploadText(),
          tool: uploadText(),
          fingerprint: uploadText(),
          metadata: fc.dictionary(nastyString(), nastyValue(), { maxKeys: 2 }),
        },
        { requiredKeys: ['rule_id', 'title', 'severity', 'location'] },
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((findings) => ({ findings }));

function isJsonContainer(value: unknown): value is JsonObject | unknown[] {
  return value !== null && typeof value === 'object';
}

function jsonPaths(value: unknown, path: JsonKey[] = [], into: JsonKey[][] = []): JsonKey[][] {
  into.push(path);
  if (Array.isArray(value)) value.forEach((item, index) => jsonPaths(item, [...path, index], into));
  else if (isJsonContainer(value)) {
    for (const [key, item] of Object.entries(value)) jsonPaths(item, [...path, key], into);
  }
  return into;
}

function parentOf(root: unknown, path: JsonKey[]): JsonObject | unknown[] | undefined {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) node = isJsonContainer(node) ? (node as JsonObject)[key] : undefined;
  return isJsonContainer(node) ? node : undefined;
}

/** The objects a pattern such as ['runs', '*', 'results', '*'] reaches. */
function objectsAt(root: unknown, pattern: string[]): JsonObject[] {
  let nodes: unknown[] = [root];
  for (const step of pattern) {
    nodes = nodes.flatMap((node): unknown[] => {
      if (step === '*') return Array.isArray(node) ? (node as unknown[]) : [];
      return isJsonContainer(node) && !Array.isArray(node) ? [node[step]] : [];
    });
  }
  return nodes.filter((node): node is JsonObject => isJsonContainer(node) && !Array.isArray(node));
}

function pick<T>(items: readonly T[], choice: number): T | undefined {
  return items.length === 0 ? undefined : items[choice % items.length];
}

function firstPhysicalLocation(result: JsonObject): JsonObject {
  const physical: JsonObject = { artifactLocation: { uri: 'src/x.c' }, region: { startLine: 1 } };
  result['locations'] = [{ physicalLocation: physical }];
  return physical;
}

/** One change to a document: anywhere (delete, replace, duplicate, nest) or where SARIF resolves references. */
const UPLOAD_EDITS: Record<string, (document: unknown, choice: number, value: unknown) => unknown> = {
  delete: (document, choice) => {
    const path = pick(jsonPaths(document).slice(1), choice);
    const parent = path && parentOf(document, path);
    if (Array.isArray(parent)) parent.splice(path?.[path.length - 1] as number, 1);
    else if (parent && path) delete parent[path[path.length - 1] as string];
    return document;
  },
  replace: (document, choice, value) => {
    const path = pick(jsonPaths(document).slice(1), choice);
    const parent = path && parentOf(document, path);
    if (parent && path) (parent as JsonObject)[path[path.length - 1]] = value;
    return document;
  },
  duplicateItem: (document, choice) => {
    const arrays = jsonPaths(document).filter(
      (path) => path.length > 0 && Array.isArray(parentOf(document, [...path, 0])),
    );
    const path = pick(arrays, choice);
    const array = path && parentOf(document, [...path, 0]);
    if (Array.isArray(array)) array.push(...array.slice(0, 2));
    return document;
  },
  nest: (document, choice) => {
    let nested: unknown = choice % 2 === 0 ? [] : {};
    const levels = pick([50, 127, 128, 200], choice >> 1) ?? 0;
    for (let level = 0; level < levels; level += 1) {
      nested = choice % 2 === 0 ? [nested] : { a: nested };
    }
    return UPLOAD_EDITS['replace'](document, choice >> 3, nested);
  },
  version: (document, choice) => {
    if (isJsonContainer(document) && !Array.isArray(document) && 'runs' in document) {
      document['version'] = pick(['2.0.0', '2.1', 2.1, null, '2.1.0 '], choice);
    }
    return document;
  },
  references: (document, choice) => {
    const result = pick(objectsAt(document, ['runs', '*', 'results', '*']), choice);
    if (!result) return document;
    const bad = pick([99, -1, 1.5, 2 ** 32, '0'], choice >> 3);
    switch (choice % 4) {
      case 0:
        result['ruleIndex'] = bad;
        delete result['ruleId'];
        break;
      case 1:
        result['rule'] = { index: bad, toolComponent: { index: bad } };
        delete result['ruleId'];
        break;
      case 2:
        firstPhysicalLocation(result)['artifactLocation'] = { index: bad };
        break;
      default:
        firstPhysicalLocation(result)['region'] = { startLine: bad, endLine: -5, startColumn: 1e10 };
    }
    return document;
  },
  uriBaseLoop: (document, choice) => {
    for (const run of objectsAt(document, ['runs', '*'])) {
      run['originalUriBaseIds'] = { A: { uri: 'a/', uriBaseId: 'B' }, B: { uri: 'b/', uriBaseId: 'A' } };
    }
    const result = pick(objectsAt(document, ['runs', '*', 'results', '*']), choice);
    if (result) firstPhysicalLocation(result)['artifactLocation'] = { uri: 'x.c', uriBaseId: 'A' };
    return document;
  },
  placeholders: (document, choice, value) => {
    for (const rule of objectsAt(document, ['runs', '*', 'tool', 'driver', 'rules', '*'])) {
      rule['messageStrings'] = { m: { text: '{0} {99} {{ {4294967296}' } };
    }
    const result = pick(objectsAt(document, ['runs', '*', 'results', '*']), choice);
    if (result) result['message'] = { id: 'm', arguments: [value, 1, null] };
    return document;
  },
  lengths: (document, choice, value) => {
    const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
    const item = pick(objectsAt(document, ['findings', '*']), choice);
    if (item) {
      const field = pick(['rule_id', 'title', 'tool', 'fingerprint', 'description'], choice >> 3) as string;
      item[field] = text;
    }
    const result = pick(objectsAt(document, ['runs', '*', 'results', '*']), choice);
    if (result) {
      if (choice % 3 === 0) result['ruleId'] = text;
      else if (choice % 3 === 1) result['message'] = { text };
      else firstPhysicalLocation(result)['artifactLocation'] = { uri: text };
    }
    return document;
  },
};

/** The value in `present` cases out of `absent + present`, else null (fc.option only sets how often it is absent). */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, absent: number, present: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: absent, arbitrary: fc.constant(null) }, { weight: present, arbitrary });
}

export interface UploadCase {
  body: Buffer;
  headers: Record<string, string>;
  /** Without the '?'; may be empty. */
  query: string;
}

/**
 * How fast-check prints a failing upload: its headers, query and body (as base64 when small enough to paste into
 * a test, else its start) instead of every byte as a number.
 */
function describeUpload(upload: UploadCase): string {
  const body =
    upload.body.length <= 4096
      ? `Buffer.from(${JSON.stringify(upload.body.toString('base64'))}, 'base64')`
      : `${upload.body.length} bytes starting ${JSON.stringify(upload.body.subarray(0, 300).toString('latin1'))}`;
  return `{ query: ${JSON.stringify(upload.query)}, headers: ${JSON.stringify(upload.headers)}, body: ${body} }`;
}

/** A document to upload: a real scanner's SARIF, a generated SARIF or native one, spoiled by up to three edits. */
export const uploadDocument = (): fc.Arbitrary<unknown> =>
  fc
    .tuple(
      fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(...SARIF_FIXTURES) },
        { weight: 2, arbitrary: generatedSarif() },
        { weight: 2, arbitrary: generatedNative() },
      ),
      fc.array(
        fc.tuple(
          fc.constantFrom(...Object.keys(UPLOAD_EDITS)),
          fc.nat(),
          fc.oneof(nastyValue(), edgeString()),
        ),
        { maxLength: 3 },
      ),
    )
    .map(([document, edits]) =>
      edits.reduce<unknown>(
        (spoiled, [edit, choice, value]) => UPLOAD_EDITS[edit](spoiled, choice, value),
        structuredClone(document),
      ),
    );

/** The document's bytes, whole or damaged: cut short, or with stray bytes (invalid UTF-8, NUL, a token). */
const documentBytes = (): fc.Arbitrary<Buffer> =>
  fc
    .tuple(
      uploadDocument(),
      fc.constantFrom(0, 0, 2),
      sometimes(
        fc.tuple(
          fc.nat(),
          fc.constantFrom('cut', '\u0000', '}', '"', '\\u', '\ud800', 'é'),
          fc.constantFrom(
            Buffer.alloc(0),
            Buffer.from([0xff]),
            Buffer.from([0xc3]),
            Buffer.from([0xed, 0xa0, 0x80]),
          ),
        ),
        3,
        1,
      ),
    )
    .map(([document, indent, damage]) => {
      const bytes = Buffer.from(JSON.stringify(document, null, indent) ?? 'null');
      if (!damage) return bytes;
      const [at, insert, raw] = damage;
      const offset = at % (bytes.length + 1);
      if (insert === 'cut') return bytes.subarray(0, offset);
      return Buffer.concat([bytes.subarray(0, offset), Buffer.from(insert), raw, bytes.subarray(offset)]);
    });

export const UPLOAD_CONTENT_TYPES = [
  'application/json',
  'application/sarif+json',
  'application/sarif+json; charset=utf-8',
  'Application/JSON',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/sarif',
  '',
];

const CONTENT_ENCODINGS = [
  'gzip',
  'identity',
  'x-gzip',
  'GZIP',
  ' gzip ',
  'gzip, gzip',
  'br',
  'deflate',
  'identity, gzip',
  '',
];

/** Keys a client could send: valid ones, one shared by different requests, and ones the header grammar refuses. */
const idempotencyKey = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.uuid().map((uuid) => `fuzz-${uuid}`) },
    { weight: 1, arbitrary: fc.constantFrom('fuzz-shared-a', 'fuzz-shared-b') },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        ' ',
        'a b',
        '\tkey',
        'k'.repeat(255),
        'k'.repeat(256),
        'k'.repeat(5_000),
        '\u00e9t\u00e9',
        '"quoted"',
        '%00',
        '${jndi:ldap://x}',
      ),
    },
  );

const PREFERENCES = [
  'respond-async',
  'RESPOND-ASYNC',
  'respond-async, wait=5',
  'wait=1; respond-async',
  'handling=strict',
  'respond-async;x=y',
  'respond-asyncx',
  ',,,',
];

/** Query context: the declared parameters with sensible, hostile and edge-length values, repeats and unknowns. */
const uploadQuery = (): fc.Arbitrary<string> =>
  fc
    .array(
      fc.tuple(
        fc.constantFrom('repository', 'commit', 'ref', 'tool', 'repository', 'ref', 'x', '__proto__'),
        fc.oneof(
          {
            weight: 3,
            arbitrary: fc.constantFrom(
              'acme/app',
              'https://git.example/acme/app.git/',
              'refs/heads/main',
              '9fceb02',
              'semgrep',
            ),
          },
          { weight: 2, arbitrary: nastyString().map((value) => encodeURIComponent(toWellFormed(value))) },
          { weight: 2, arbitrary: edgeString().map((value) => encodeURIComponent(toWellFormed(value))) },
          { weight: 1, arbitrary: fc.constantFrom('%00', 'a%00b', '%ED%A0%80', '%FF', '', '%20%20') },
        ),
      ),
      { maxLength: 4 },
    )
    .map((pairs) => pairs.map(([name, value]) => `${name}=${value}`).join('&'));

/**
 * A whole upload: the bytes (gzip when the header says so, mostly), its Content-Type, Content-Encoding, Prefer
 * and Idempotency-Key headers, and its query. Credentials are the caller's.
 */
export const uploadCase = (): fc.Arbitrary<UploadCase> =>
  fc
    .record({
      bytes: documentBytes(),
      contentType: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/sarif+json') },
        { weight: 1, arbitrary: fc.constantFrom(...UPLOAD_CONTENT_TYPES) },
      ),
      encoding: sometimes(fc.constantFrom(...CONTENT_ENCODINGS), 1, 1),
      compressed: fc.oneof(
        { weight: 5, arbitrary: fc.constant('as declared') },
        { weight: 1, arbitrary: fc.constantFrom('always', 'never', 'cut') },
      ),
      level: fc.integer({ min: 0, max: 9 }),
      prefer: sometimes(fc.constantFrom(...PREFERENCES), 3, 1),
      key: sometimes(idempotencyKey(), 1, 1),
      query: sometimes(uploadQuery(), 1, 1),
    })
    .map(({ bytes, contentType, encoding, compressed, level, prefer, key, query }) => {
      const declaresGzip = /gzip/i.test(encoding ?? '');
      const gzip =
        compressed === 'always' || compressed === 'cut' || (compressed === 'as declared' && declaresGzip);
      let body = gzip ? gzipSync(bytes, { level }) : bytes;
      if (compressed === 'cut') body = body.subarray(0, Math.max(0, body.length - 6));
      const headers: Record<string, string> = {};
      if (contentType !== '') headers['content-type'] = contentType;
      if (encoding !== null) headers['content-encoding'] = encoding;
      if (prefer !== null) headers['prefer'] = prefer;
      if (key !== null) headers['idempotency-key'] = key;
      return {
        body,
        headers,
        query: query ?? '',
        [fc.toStringMethod](this: UploadCase) {
          return describeUpload(this);
        },
      };
    });
