/** The version of OpenAPI the documents are written in: JSON Schema 2020-12, where `null` is a type. */
export const OPENAPI_VERSION = '3.1.0';

/** Keywords whose values are data, not schemas: never rewritten. */
const DATA_KEYWORDS = new Set(['example', 'examples', 'default', 'enum', 'const']);

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const NULL_SCHEMA = { type: 'null' } as const;

/**
 * One schema's OpenAPI 3.0 `nullable: true` in 3.1 terms:
 * - a reference (which @nestjs/swagger writes as `allOf: [{$ref}]`, often with `type: object`) becomes
 *   `anyOf: [{$ref}, {type: 'null'}]`: under 3.0, `nullable` beside `allOf` never let `null` through the referenced
 *   schema, which is what strict validators reported;
 * - a typed schema gets `'null'` among its types, and `null` among its `enum` values if it has any;
 * - a schema with `anyOf`/`oneOf` gets `{type: 'null'}` as one more alternative.
 * Everything else of the schema (description, example…) stays where it is.
 */
function nullableToNullType(schema: Json): void {
  if (schema['nullable'] !== true) {
    if (schema['nullable'] === false) delete schema['nullable'];
    return;
  }
  delete schema['nullable'];
  const allOf = schema['allOf'];
  if (Array.isArray(allOf) && allOf.length === 1 && isRecord(allOf[0]) && '$ref' in allOf[0]) {
    delete schema['allOf'];
    delete schema['type'];
    schema['anyOf'] = [allOf[0], NULL_SCHEMA];
    return;
  }
  if (typeof schema['$ref'] === 'string') {
    schema['anyOf'] = [{ $ref: schema['$ref'] }, NULL_SCHEMA];
    delete schema['$ref'];
    delete schema['type'];
    return;
  }
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const alternatives = schema[keyword];
    if (Array.isArray(alternatives) && schema['type'] === undefined) {
      alternatives.push(NULL_SCHEMA);
      return;
    }
  }
  const type: unknown = schema['type'];
  if (typeof type === 'string') schema['type'] = [type, 'null'];
  else if (Array.isArray(type) && !type.includes('null')) schema['type'] = [...(type as unknown[]), 'null'];
  const values: unknown = schema['enum'];
  if (Array.isArray(values) && !values.includes(null)) schema['enum'] = [...(values as unknown[]), null];
}

/** 3.0's boolean `exclusiveMinimum`/`exclusiveMaximum` modify `minimum`/`maximum`; in 3.1 they are the bound. */
function exclusiveBoundsToNumbers(schema: Json): void {
  for (const [exclusive, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (typeof schema[exclusive] !== 'boolean') continue;
    if (schema[exclusive] === true && typeof schema[bound] === 'number') {
      schema[exclusive] = schema[bound];
      delete schema[bound];
    } else {
      delete schema[exclusive];
    }
  }
}

/** Maps keyed by names the document chooses (a property may be called `default`): every value is visited. */
const NAMED_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions']);

function visit(value: unknown, named = false): void {
  if (Array.isArray(value)) {
    for (const item of value) visit(item);
    return;
  }
  if (!isRecord(value)) return;
  if (named) {
    for (const child of Object.values(value)) visit(child);
    return;
  }
  nullableToNullType(value);
  exclusiveBoundsToNumbers(value);
  for (const [key, child] of Object.entries(value)) {
    if (!DATA_KEYWORDS.has(key)) visit(child, NAMED_MAPS.has(key));
  }
}

/**
 * Rewrites, in place, an OpenAPI 3.0 document as @nestjs/swagger generates it into OpenAPI 3.1: the version, and
 * the two 3.0 schema keywords JSON Schema 2020-12 spells differently (`nullable`, boolean exclusive bounds).
 * Examples, defaults and enums are data and are left as they are.
 */
export function toOpenApi31<T extends { openapi: string }>(document: T): T {
  visit(document);
  document.openapi = OPENAPI_VERSION;
  return document;
}
