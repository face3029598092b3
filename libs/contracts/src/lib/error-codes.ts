/**
 * Every error the suite returns carries one of these stable codes. Clients branch on the code, never on the
 * message, so a code is never renamed once released.
 */
export const ERROR_STATUS = {
  validation_failed: 400,
  invalid_sarif: 400,
  malformed_json: 400,
  bad_request: 400,
  unauthorized: 401,
  missing_api_key: 401,
  invalid_api_key: 401,
  api_key_revoked: 401,
  key_expired: 401,
  client_id_mismatch: 401,
  missing_token: 401,
  invalid_token: 401,
  token_expired: 401,
  token_revoked: 401,
  api_key_disabled: 401,
  invalid_signature: 401,
  forbidden: 403,
  plan_not_allowed: 403,
  ip_not_allowed: 403,
  api_key_not_found: 404,
  not_found: 404,
  scan_not_found: 404,
  finding_not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  idempotency_in_progress: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  limit_exceeded: 422,
  idempotency_key_reused: 422,
  rate_limit_exceeded: 429,
  request_header_too_large: 431,
  internal_error: 500,
  bad_gateway: 502,
  service_unavailable: 503,
  gateway_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The one error body of the whole suite. */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
  request_id: string;
  details?: unknown;
  retry_after?: number;
}
