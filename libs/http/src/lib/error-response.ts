import { HttpException } from '@nestjs/common';
import { ERROR_STATUS, GatehouseError, type ErrorBody, type ErrorCode } from '@gatehouse/contracts';

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
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limit_exceeded',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

/** Fastify's own request errors, by their stable `code`. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
};

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  payload_too_large: 'Request body is larger than the limit',
  unsupported_media_type: 'Content-Type must be application/json',
  malformed_json: 'Request body is not valid JSON',
  internal_error: 'Internal error',
  service_unavailable: 'A dependency of this service is unavailable; retry shortly',
};

/** Network and PostgreSQL codes meaning a dependency cannot be reached right now, rather than a bug. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  '57P01', // admin_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

function isDependencyUnavailable(error: unknown): boolean {
  const like = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = like?.code ?? like?.driverError?.code;
  return typeof code === 'string' && UNAVAILABLE_CODES.has(code);
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
 * reveals nothing; everything a client can cause maps to a 4xx.
 */
export function toErrorResponse(error: unknown, requestId: string): ErrorResponse {
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
    const fastifyCode = typeof like.code === 'string' ? FASTIFY_CODES[like.code] : undefined;
    const status = typeof like.statusCode === 'number' ? like.statusCode : 500;
    if (fastifyCode) {
      code = fastifyCode;
    } else if (isDependencyUnavailable(error)) {
      code = 'service_unavailable';
      unexpected = true;
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
      (!unexpected && typeof like.message === 'string' ? like.message : (MESSAGES.internal_error as string));
  }

  const body: ErrorBody = { error: code, message, request_id: requestId };
  if (details !== undefined) body.details = details;
  const headers: Record<string, string> = {};
  if (retryAfter !== undefined) {
    body.retry_after = retryAfter;
    headers['retry-after'] = String(retryAfter);
  }
  return { status: ERROR_STATUS[code], body, headers, unexpected };
}
