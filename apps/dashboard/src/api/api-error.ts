import type { ErrorBody } from './types';

/** A failed call, with what the user needs to report it: the server's message and its request id. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const body = value as Record<string, unknown>;
  return typeof body['error'] === 'string' && typeof body['message'] === 'string';
}

/**
 * Reads a non-2xx response. A proxy in front of the gateway may answer with HTML or nothing at all: the status and
 * the X-Request-Id header still say something useful then.
 */
export async function toApiError(response: Response): Promise<ApiError> {
  const headerId = response.headers.get('x-request-id');
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  if (isErrorBody(body)) {
    const requestId = typeof body.request_id === 'string' ? body.request_id : headerId;
    return new ApiError(response.status, body.error, body.message, requestId);
  }
  const reason = response.statusText || 'request failed';
  return new ApiError(response.status, 'unexpected_response', `HTTP ${response.status}: ${reason}`, headerId);
}
