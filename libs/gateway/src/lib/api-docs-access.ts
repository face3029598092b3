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

type Operation = {
  responses?: Record<string, { headers?: Record<string, unknown>; [field: string]: unknown }>;
  security?: Record<string, string[]>[];
  [field: string]: unknown;
};

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * The services' documents describe the services; what the gateway adds in front of them is written in here: the
 * rate-limit headers and the 429 of every limited operation, and direct key authentication (an API key in
 * `X-API-Key` accepted wherever a bearer token is) on the API routes.
 */
export function documentGatewayAccess(document: OpenApiDocument, access: DocumentedAccess): OpenApiDocument {
  const schemes = document.components?.['securitySchemes'] ?? {};
  for (const [path, item] of Object.entries(document.paths)) {
    const api = access.apiPrefixes.some((prefix) => isUnder(path, prefix));
    if (!api && path !== access.authenticatePath) continue;
    for (const method of METHODS) {
      const operation = (item as Record<string, Operation | undefined>)[method];
      if (!operation) continue;
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
      if (api && takesBearer && !takesKey && API_KEY_SCHEME in schemes)
        security?.push({ [API_KEY_SCHEME]: [] });
    }
  }
  return document;
}
