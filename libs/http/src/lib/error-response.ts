import type { IncomingHttpHeaders } from 'node:http';
import { HttpException } from '@nestjs/common';
import { ERROR_STATUS, GatehouseError, type ErrorBody, type ErrorCode } from '@gatehouse/contracts';
import { presentedCredentials, wwwAuthenticate } from './www-authenticate';

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** True for failures of ours rather than of the request: these are logged with their stack. */
  unexpected: boolean;
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limit_exceeded',
  431: 'request_header_too_large',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

/**
 * Fastify's own request errors, by their stable `code`: every FST_ERR_* of fastify/lib/errors.js that a request
 * can cause (the others are programming errors, and stay 500s).
 */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_BAD_URL: 'bad_request',
  FST_ERR_INVALID_URL: 'bad_request',
  FST_ERR_MAX_PARAM_LENGTH: 'uri_too_long',
  FST_ERR_NOT_FOUND: 'not_found',
  FST_ERR_VALIDATION: 'validation_failed',
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: 'unsupported_media_type',
  FST_ERR_ROUTE_MISSING_CONTENT: 'bad_request',
};

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  payload_too_large: 'Request body is larger than the limit',
  unsupported_media_type: 'Content-Type must be application/json',
  malformed_json: 'Request body is not valid JSON',
  uri_too_long: 'A path segment is longer than the limit',
  request_header_too_large: 'Request headers are larger than the limit',
  request_timeout: 'The request was not received in time',
  internal_error: 'Internal error',
  service_unavailable: 'A dependency of this service is unavailable; retry shortly',
};

/**
 * Fastify's messages quote the request (the URL of FST_ERR_BAD_URL, which may carry a credential); these replace
 * them. Codes absent here keep Fastify's wording, which quotes nothing of the request.
 */
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_BAD_URL: 'The URL is not validly percent-encoded',
  FST_ERR_INVALID_URL: 'The URL is not valid',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Request body size did not match Content-Length',
  FST_ERR_NOT_FOUND: 'Not found',
  FST_ERR_ROUTE_MISSING_CONTENT: 'This method must provide a request body',
};

/** Network and PostgreSQL codes meaning a dependency cannot be reached right now, rather than a bug. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

/** SQLSTATE class 08: connection exceptions (08000, 08003, 08006, 08001, 08004, 08007, 08P01). */
const CONNECTION_EXCEPTION_CLASS = /^08[0-9A-Z]{3}$/;

/**
 * What node-postgres and its pool throw when the connection is lost or never made: these errors carry no
 * SQLSTATE (the server said nothing), only a message, the same in pg 8.x since its first release.
 */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated unexpectedly$/,
  /^Connection terminated due to connection timeout$/,
  /^Connection terminated$/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
  /^terminating connection due to /,
  /^Query read timeout$/,
];

/**
 * TypeORM releases a query runner as soon as its connection fails (its 'error' listener does), so the next
 * statement of the same transaction fails with one of these rather than with pg's error (the first through the
 * runner, the second through an EntityManager's query): seen when sessions are killed under load. Our code never
 * uses a runner after releasing it, so here they mean a lost connection.
 */
const UNAVAILABLE_NAMES = new Set([
  'QueryRunnerAlreadyReleasedError',
  'QueryRunnerProviderAlreadyReleasedError',
]);

/** How deep wrappers are looked into: TypeORM's `driverError`, `cause` chains. */
const MAX_WRAPPING = 5;

/**
 * Whether a dependency is unreachable or dropped the connection, rather than a bug: by network code, by SQLSTATE
 * (08xxx, 57P01–57P03, 53300), or for pg's code-less errors by their message; in the error itself or in what
 * wraps (TypeORM's QueryFailedError keeps pg's error as `driverError`, others as `cause`).
 */
export function isDependencyUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let level = 0; level < MAX_WRAPPING && typeof current === 'object' && current !== null; level += 1) {
    const like = current as {
      code?: unknown;
      name?: unknown;
      message?: unknown;
      driverError?: unknown;
      cause?: unknown;
    };
    if (typeof like.name === 'string' && UNAVAILABLE_NAMES.has(like.name)) return true;
    const code = like.code;
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || CONNECTION_EXCEPTION_CLASS.test(code))) {
      return true;
    }
    const message = like.message;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))) {
      return true;
    }
    current = like.driverError ?? like.cause;
  }
  return false;
}

/** SQLSTATEs of a transaction that lost to a concurrent one (deadlock, serialization failure): retryable. */
const CONCURRENCY_CODES = new Set(['40P01', '40001']);

/** Whether PostgreSQL gave up on the statement because of a concurrent transaction (see CONCURRENCY_CODES). */
export function isConcurrencyConflict(error: unknown): boolean {
  const like = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = like?.driverError?.code ?? like?.code;
  return typeof code === 'string' && CONCURRENCY_CODES.has(code);
}

interface ErrorLike {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

function fromHttpException(error: HttpException): { code: ErrorCode; message: string; details?: unknown } {
  const status = error.getStatus();
  const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
  const response = error.getResponse();
  const message =
    typeof response === 'object' && response !== null && 'message' in response
      ? String(response.message)
      : error.message;
  // Fastify's own request errors reach us as bare HttpExceptions; give them the suite's wording.
  return { code, message: MESSAGES[code] ?? (status >= 500 ? (MESSAGES.internal_error as string) : message) };
}

/**
 * The one place where anything thrown becomes the suite's error shape. Unknown errors become a 500 whose body
 * reveals nothing; everything a client can cause maps to a 4xx. A 401 carries its `WWW-Authenticate` challenge,
 * whose scheme may depend on what the request presented (`requestHeaders`; see www-authenticate.ts).
 */
export function toErrorResponse(
  error: unknown,
  requestId: string,
  requestHeaders?: IncomingHttpHeaders,
): ErrorResponse {
  let code: ErrorCode;
  let message: string;
  let details: unknown;
  let retryAfter: number | undefined;
  let unexpected = false;

  if (error instanceof GatehouseError) {
    code = error.code;
    message = error.message;
    details = error.details;
    if (code === 'rate_limit_exceeded' && typeof details === 'object' && details !== null) {
      retryAfter = (details as { retryAfter?: number }).retryAfter;
      details = undefined;
    }
  } else if (error instanceof HttpException) {
    ({ code, message, details } = fromHttpException(error));
    unexpected = code === 'internal_error';
  } else {
    const like = (error ?? {}) as ErrorLike;
    let knownMessage: string | undefined;
    const fastifyCode = typeof like.code === 'string' ? FASTIFY_CODES[like.code] : undefined;
    const status = typeof like.statusCode === 'number' ? like.statusCode : 500;
    if (fastifyCode) {
      code = fastifyCode;
      knownMessage = FASTIFY_MESSAGES[like.code as string];
    } else if (isDependencyUnavailable(error)) {
      code = 'service_unavailable';
      unexpected = true;
    } else if (isConcurrencyConflict(error)) {
      code = 'conflict';
      knownMessage = 'This change collided with a concurrent change of the same keys; retry it';
    } else if (error instanceof SyntaxError && status === 400) {
      code = 'malformed_json';
    } else if (status >= 400 && status < 500) {
      code = CODE_BY_STATUS[status] ?? 'bad_request';
    } else {
      code = 'internal_error';
      unexpected = true;
    }
    message =
      MESSAGES[code] ??
      knownMessage ??
      (!unexpected && typeof like.message === 'string' ? like.message : (MESSAGES.internal_error as string));
  }

  const body: ErrorBody = { error: code, message, request_id: requestId };
  if (details !== undefined) body.details = details;
  const headers: Record<string, string> = {};
  if (retryAfter !== undefined) {
    body.retry_after = retryAfter;
    headers['retry-after'] = String(retryAfter);
  }
  const challenge = wwwAuthenticate(code, presentedCredentials(requestHeaders));
  if (challenge) headers['www-authenticate'] = challenge;
  return { status: ERROR_STATUS[code], body, headers, unexpected };
}
