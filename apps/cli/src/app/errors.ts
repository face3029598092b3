import { ExitCode } from './exit-codes';

/** A failure to report in one line and end the command with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The server's error body, as every service and the gateway answer it. */
export interface ServerError {
  error: string;
  message: string;
  request_id?: string;
  retry_after?: number;
  details?: unknown;
}

export function isServerError(body: unknown): body is ServerError {
  if (typeof body !== 'object' || body === null) return false;
  const candidate = body as Record<string, unknown>;
  return typeof candidate['error'] === 'string' && typeof candidate['message'] === 'string';
}

/** An HTTP answer that ended a command: the server's `message` and `request_id` are what the user reports. */
export class ApiError extends CliError {
  constructor(
    readonly what: string,
    readonly status: number,
    readonly body: ServerError | undefined,
    readonly attempts = 1,
  ) {
    super(describeApiError(what, status, body, attempts), exitCodeForStatus(status));
    this.name = 'ApiError';
  }

  get code(): string | undefined {
    return this.body?.error;
  }

  get requestId(): string | undefined {
    return this.body?.request_id;
  }
}

export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return ExitCode.AuthRefused;
  if (status === 408 || status === 429 || status >= 500) return ExitCode.Unavailable;
  if (status >= 400) return ExitCode.Refused;
  return ExitCode.Unexpected;
}

/** What to do about the refusals a pipeline meets most, beyond the server's own message. */
const HINTS: Record<string, string> = {
  api_key_revoked:
    'the API key was revoked (or its previous secret retired after a rotation): put a working key in GATEHOUSE_API_KEY',
  key_expired: 'the API key has expired: put a new key in GATEHOUSE_API_KEY',
  api_key_disabled:
    'the API key is disabled: an administrator can enable it again (gatehouse keys enable <id>)',
  invalid_api_key: 'GATEHOUSE_API_KEY does not hold a Gatehouse API key (gth_live_… or gth_test_…)',
  api_key_not_found: 'no such API key: check GATEHOUSE_API_KEY and GATEHOUSE_API_URL',
  client_id_mismatch: 'GATEHOUSE_CLIENT_ID is not the client_id registered with this API key',
  ip_not_allowed: "the API key's IP allowlist does not include this machine's address",
};

function describeApiError(
  what: string,
  status: number,
  body: ServerError | undefined,
  attempts: number,
): string {
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  if (!body) return `${what} failed${tries}: HTTP ${status} without an error body`;
  const hint = HINTS[body.error];
  const requestId = body.request_id ? `, request_id ${body.request_id}` : '';
  return (
    `${what} failed${tries}: ${body.message} (HTTP ${status} ${body.error}${requestId})` +
    (hint ? `\n  ${hint}` : '')
  );
}
