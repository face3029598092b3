import { ERROR_STATUS, type ErrorCode } from '@gatehouse/contracts';
import { challengeHeader } from '@gatehouse/http';
import type { OpenApiDocument } from './api-docs';

/** Which operations the gateway's access rules apply to, as in `GatewayAccessOptions`. */
export interface DocumentedAccess {
  authenticatePath: string;
  apiPrefixes: readonly string[];
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const BEARER_SCHEME = 'bearer';
const API_KEY_SCHEME = 'api_key';
const ERROR_SCHEMA = '#/components/schemas/ErrorBody';

const RATE_LIMIT_HEADERS = {
  'X-RateLimit-Limit': {
    description: 'Requests per window of the limit that applies (the rate, without the burst)',
    schema: { type: 'integer' },
  },
  'X-RateLimit-Remaining': {
    description: 'What is left of the rate in the current window (0 while on the burst)',
    schema: { type: 'integer' },
  },
  'X-RateLimit-Reset': {
    description: 'Unix time, in seconds, at which the current window ends',
    schema: { type: 'integer' },
  },
};

type Response = { description?: string; headers?: Record<string, unknown>; [field: string]: unknown };

type Operation = {
  responses?: Record<string, Response>;
  security?: Record<string, string[]>[];
  requestBody?: unknown;
  [field: string]: unknown;
};

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

function operationsOf(document: OpenApiDocument): [path: string, operation: Operation][] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => {
      const operation = (item as Record<string, Operation | undefined>)[method];
      return operation ? [[path, operation] as [string, Operation]] : [];
    }),
  );
}

/** `error: code, code…` and what follows, as ApiErrors (libs/http) writes the description of an error response. */
const ERROR_DESCRIPTION = /^error: ([a-z_]+(?:, [a-z_]+)*)(.*)$/s;

/**
 * Declares that an operation may answer these codes: each joins the response of its status (its description's
 * list of codes, and for a 401 the challenges of its `WWW-Authenticate`), or makes one with the ErrorBody schema
 * and `note` after the codes. A response described some other way is left alone.
 */
export function addErrorResponses(operation: Operation, codes: readonly ErrorCode[], note = ''): void {
  const responses = (operation.responses ??= {});
  const byStatus = new Map<string, ErrorCode[]>();
  for (const code of codes) {
    const status = String(ERROR_STATUS[code]);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, added] of byStatus) {
    const existing = responses[status];
    let listed: ErrorCode[] = [];
    let rest = note;
    if (existing) {
      const match = ERROR_DESCRIPTION.exec(existing.description ?? '');
      if (!match) continue;
      listed = match[1].split(', ') as ErrorCode[];
      rest = match[2];
    }
    const all = [...new Set([...listed, ...added])];
    const response: Response = existing ?? {
      description: '',
      content: { 'application/json': { schema: { $ref: ERROR_SCHEMA } } },
    };
    response.description = `error: ${all.join(', ')}${rest}`;
    if (status === '401') response.headers = { ...response.headers, ...challengeHeader(all) };
    responses[status] = response;
  }
}

/**
 * What the gateway itself may answer on every operation it forwards: 502 when the service behind cannot be
 * reached or fails, 504 when it sends no response headers within UPSTREAM_TIMEOUT_MS, and 413 on operations with
 * a body, which the gateway receives whole under its body limit before forwarding.
 */
export function documentGatewayAnswers(document: OpenApiDocument): OpenApiDocument {
  for (const [, operation] of operationsOf(document)) {
    addErrorResponses(
      operation,
      ['bad_gateway'],
      ' (from the gateway: the service behind it could not be reached, or failed)',
    );
    addErrorResponses(
      operation,
      ['gateway_timeout'],
      ' (from the gateway: the service behind it sent no answer within UPSTREAM_TIMEOUT_MS)',
    );
    if (operation.requestBody) {
      addErrorResponses(
        operation,
        ['payload_too_large'],
        ' (the body is larger than the limit of the route)',
      );
    }
  }
  return document;
}

/** What the gateway may answer for an API key sent directly, relaying auth-service's refusal of the key. */
const DIRECT_KEY_ERRORS: readonly ErrorCode[] = [
  'unauthorized',
  'invalid_api_key',
  'api_key_revoked',
  'key_expired',
  'api_key_disabled',
  'ip_not_allowed',
  'api_key_not_found',
];

/**
 * The services' documents describe the services; what the gateway adds in front of them is written in here: the
 * rate-limit headers and the 429 of every limited operation, and direct key authentication (an API key in
 * `X-API-Key` accepted wherever a bearer token is) on the API routes, with the refusals of a key it relays.
 */
export function documentGatewayAccess(document: OpenApiDocument, access: DocumentedAccess): OpenApiDocument {
  const schemes = document.components?.['securitySchemes'] ?? {};
  for (const [path, operation] of operationsOf(document)) {
    const api = access.apiPrefixes.some((prefix) => isUnder(path, prefix));
    if (!api && path !== access.authenticatePath) continue;
    const responses = (operation.responses ??= {});
    for (const [status, response] of Object.entries(responses)) {
      if (status.startsWith('2')) response.headers = { ...response.headers, ...RATE_LIMIT_HEADERS };
    }
    responses['429'] ??= {
      description: 'error: rate_limit_exceeded (the body also carries retry_after, in seconds)',
      headers: {
        ...RATE_LIMIT_HEADERS,
        'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
      },
      content: { 'application/json': { schema: { $ref: ERROR_SCHEMA } } },
    };
    const security = operation.security;
    const takesBearer = security?.some((requirement) => BEARER_SCHEME in requirement) ?? false;
    const takesKey = security?.some((requirement) => API_KEY_SCHEME in requirement) ?? false;
    if (api && takesBearer && !takesKey && API_KEY_SCHEME in schemes) {
      security?.push({ [API_KEY_SCHEME]: [] });
      addErrorResponses(operation, DIRECT_KEY_ERRORS);
    }
  }
  return document;
}
