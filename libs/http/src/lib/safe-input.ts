import type { FastifyInstance } from 'fastify';
import { GatehouseError } from '@gatehouse/contracts';
import type { FieldProblem } from './validation';

/**
 * Deepest nesting of arrays and objects a JSON body may have. No route takes more than a few levels (findings'
 * free-form `metadata` included), and validation recurses once per level: 10,000 levels overflowed its stack.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * A NUL (U+0000), or a surrogate code unit that is not half of a pair (a lone U+D800–U+DFFF). PostgreSQL stores
 * neither, in `text` or `jsonb`, and refuses the whole statement; UTF-8 cannot even encode a lone surrogate.
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether PostgreSQL can store the string as sent: no NUL, every surrogate paired. */
export function isPostgresSafe(value: string): boolean {
  return !UNSTORABLE.test(value);
}

export interface UnsafeInput {
  /** Where, as `a.0.b` (the validation details' notation); empty for the value itself. */
  field: string;
  problem: string;
}

const NUL_OR_SURROGATE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

interface Visit {
  value: unknown;
  depth: number;
  parent: Visit | undefined;
  key: string;
}

function pathOf(visit: Visit | undefined): string {
  const keys: string[] = [];
  for (let at = visit; at?.parent; at = at.parent) keys.push(at.key);
  return keys.reverse().join('.');
}

/**
 * The first string (object keys included) PostgreSQL could not store, or the first container nested deeper than
 * `maxDepth` (the value itself, when an array or object, is level 1). Walks with an explicit stack, never by
 * recursion, so that no nesting can overflow it.
 */
export function findUnsafeInput(value: unknown, maxDepth = MAX_JSON_DEPTH): UnsafeInput | undefined {
  const stack: Visit[] = [{ value, depth: 0, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const visit = stack.pop() as Visit;
    const current = visit.value;
    if (typeof current === 'string') {
      if (!isPostgresSafe(current)) return { field: pathOf(visit), problem: NUL_OR_SURROGATE };
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    const depth = visit.depth + 1;
    if (depth > maxDepth) {
      return { field: pathOf(visit), problem: `must not nest more than ${maxDepth} levels deep` };
    }
    const entries = Array.isArray(current)
      ? current.map((item, index) => [String(index), item] as const)
      : Object.entries(current as Record<string, unknown>);
    for (const [key, item] of entries) {
      if (!isPostgresSafe(key))
        return { field: pathOf(visit), problem: `has a key that ${NUL_OR_SURROGATE}` };
      stack.push({ value: item, depth, parent: visit, key });
    }
  }
  return undefined;
}

/**
 * The 400 for unsafe input, with details like the validation pipe's: the field is named as there (`findings.0.title`,
 * `actor`), or by the part of the request (`body`, `query`, `params`) when the whole of it is at fault.
 */
export function unsafeInputError(part: string, unsafe: UnsafeInput): GatehouseError {
  const field = unsafe.field || part;
  const problem = `${field} ${unsafe.problem}`;
  const details: FieldProblem[] = [{ field, problems: [problem] }];
  return new GatehouseError('validation_failed', `${field}: ${problem}`, details);
}

/**
 * Query strings and path parameters of every route, Nest's and Fastify's own (the gateway's proxy included), are
 * held to the same rule as JSON bodies before any handler or validation sees them. The JSON body is checked by
 * the body parser itself (create-http-app.ts).
 */
export function registerInputChecks(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', (request, _reply, done) => {
    const parts: Array<[string, unknown]> = [
      ['query', request.query],
      ['params', request.params],
    ];
    for (const [part, value] of parts) {
      const unsafe = findUnsafeInput(value);
      if (unsafe) {
        done(unsafeInputError(part, unsafe));
        return;
      }
    }
    done();
  });
}
