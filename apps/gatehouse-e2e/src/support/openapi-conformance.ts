import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

type Json = Record<string, unknown>;

interface HeaderObject {
  required?: boolean;
  schema?: Json;
}

interface ResponseObject {
  description: string;
  headers?: Record<string, HeaderObject>;
  content?: Record<string, { schema?: Json }>;
}

export interface ConformanceDocument {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, ResponseObject> }>>;
  components: { schemas: Record<string, Json> };
}

/** What a test got from the API, for {@link ResponseConformance.problems}. */
export interface ReceivedResponse {
  status: number;
  headers: Headers;
  /** The body as received (decoded), '' when there was none. */
  text: string;
}

const SCHEMAS_ID = 'https://gatehouse.test/openapi/components';

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deep copy with `#/components/schemas/X` pointing into the schema registered under {@link SCHEMAS_ID}. */
function withAbsoluteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withAbsoluteRefs);
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      key === '$ref' && typeof item === 'string' && item.startsWith('#/components/schemas/')
        ? `${SCHEMAS_ID}#/$defs/${item.slice('#/components/schemas/'.length)}`
        : withAbsoluteRefs(item),
    ]),
  );
}

const DATA_KEYWORDS = new Set(['example', 'examples', 'default', 'enum', 'const']);

/**
 * Closes every object schema that lists its properties and says nothing of others: a response property the
 * document does not declare is then reported, not silently accepted. The document itself stays open (a client
 * must tolerate new fields); this is the test's stricter reading of it, to keep the document complete.
 */
function closed(value: unknown, named = false): unknown {
  if (Array.isArray(value)) return value.map((item) => closed(item));
  if (!isRecord(value)) return value;
  const copy: Json = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = named
      ? closed(item)
      : DATA_KEYWORDS.has(key)
        ? item
        : closed(item, key === 'properties' || key === '$defs');
  }
  if (!named && isRecord(copy['properties']) && copy['additionalProperties'] === undefined) {
    copy['additionalProperties'] = false;
  }
  return copy;
}

/** The response an operation declares for a status: exact, else its range (`4XX`), else `default`. */
function declaredResponse(
  responses: Record<string, ResponseObject>,
  status: number,
): ResponseObject | undefined {
  return responses[String(status)] ?? responses[`${Math.floor(status / 100)}XX`] ?? responses['default'];
}

const INTEGER = /^-?\d+$/;

/**
 * Holds real responses to the OpenAPI document: the status is declared for the operation, every header it
 * declares required is there (and integer headers are integers), the media type is declared, and the body is
 * valid against the declared schema, strictly (JSON Schema 2020-12, formats checked, undeclared properties
 * refused; see {@link closed}).
 */
export class ResponseConformance {
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();
  /** `METHOD /template STATUS` of every response checked, for coverage. */
  readonly checked = new Set<string>();

  constructor(private readonly document: ConformanceDocument) {
    this.ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    addFormats(this.ajv);
    // OpenAPI's own annotations, beside JSON Schema's: nothing to validate.
    this.ajv.addKeyword('example');
    this.ajv.addKeyword('discriminator');
    this.ajv.addSchema({
      $id: SCHEMAS_ID,
      $defs: withAbsoluteRefs(closed(document.components.schemas, true)) as Json,
    });
  }

  private validator(key: string, schema: Json): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(withAbsoluteRefs(closed(schema)) as Json);
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** Everything in which the response departs from the document; [] when it conforms. */
  problems(method: string, template: string, received: ReceivedResponse): string[] {
    const where = `${method.toUpperCase()} ${template} ${received.status}`;
    this.checked.add(where);
    const operation = this.document.paths[template]?.[method.toLowerCase()];
    if (!operation) return [`${where}: no such operation in the document`];
    const declared = declaredResponse(operation.responses, received.status);
    if (!declared) return [`${where}: status not declared (got ${received.text.slice(0, 200)})`];

    const problems: string[] = [];
    for (const [name, header] of Object.entries(declared.headers ?? {})) {
      const value = received.headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`${where}: required header ${name} missing`);
      } else if (header.schema?.['type'] === 'integer' && !INTEGER.test(value)) {
        problems.push(`${where}: header ${name} is not an integer: ${value}`);
      }
    }

    if (received.text === '') {
      if (received.status !== 204 && declared.content) problems.push(`${where}: empty body`);
      return problems;
    }
    const mediaType = (received.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    const content = declared.content?.[mediaType];
    if (!content) {
      problems.push(`${where}: media type ${mediaType || '(none)'} not declared`);
      return problems;
    }
    if (!content.schema) return problems;
    if (!/^application\/(.+\+)?json$/.test(mediaType)) return problems;
    let body: unknown;
    try {
      body = JSON.parse(received.text);
    } catch {
      return [...problems, `${where}: body is not JSON`];
    }
    const validate = this.validator(`${where} ${mediaType}`, content.schema);
    if (!validate(body)) {
      for (const error of validate.errors ?? []) {
        problems.push(
          `${where}: ${error.instancePath || '(body)'} ${error.message ?? ''} ${JSON.stringify(error.params)}`,
        );
      }
    }
    return problems;
  }

  /** Validates a value against a named component schema, strictly as above. */
  schemaProblems(name: string, value: unknown): string[] {
    const validate = this.validator(`component ${name}`, { $ref: `#/components/schemas/${name}` });
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (error) =>
        `${name}: ${error.instancePath || '(value)'} ${error.message ?? ''} ${JSON.stringify(error.params)}`,
    );
  }
}
