import { createGatehouseClient, type GatehouseClient } from '@gatehouse/api-client';
import { CLI_VERSION } from './version';
import type { Config } from './config';
import { ApiError, CliError, isServerError } from './errors';
import { ExitCode } from './exit-codes';
import { parseRetryAfter, retrying, type RetryDecision, type Settled } from './retry';
import type { Runtime } from './runtime';
import { cacheDirectory, TokenCache, tokenCacheKey } from './token-cache';

/** What a request of the generated client resolves to. */
export interface ClientResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Per-attempt options every request is sent with. */
export interface AttemptInit {
  headers: Record<string, string>;
  signal: AbortSignal;
}

/**
 * Which failures a request may be retried after:
 * - `all`: network errors, 429, 502, 503, 504 — for reads, idempotent changes and uploads with an Idempotency-Key;
 * - `unsent`: only what proves the request was not acted on (429, 503, a connection that never opened) — for
 *   changes that must not happen twice, such as creating or rotating a key.
 */
export type RetryMode = 'all' | 'unsent';

export interface RequestOptions {
  retry: RetryMode;
  /** Sends the access token (default); the authenticate call itself does not. */
  authenticated?: boolean;
  /** 409 `idempotency_in_progress`: the first of two identical uploads is still being processed. */
  retryInProgress?: boolean;
}

export interface Answer<T> {
  data: T;
  response: Response;
  attempts: number;
}

export interface AccessToken {
  token: string;
  expiresAt: number;
  fromCache: boolean;
}

/** The claims of a Gatehouse access token the CLI reads; none of them is a secret. */
export interface TokenClaims {
  org?: string;
  sub?: string;
  client_id?: string;
  api_key_id?: string;
  permissions?: string[];
  key_version?: number;
  rate_limit?: { requests_per_minute?: number; burst?: number };
  allowed_ips?: string[];
  iss?: string;
  aud?: string | string[];
  iat?: number;
  exp?: number;
}

const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function causeCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/**
 * fetch's own failures: the connection (a `TypeError` with the socket error as its cause) or the request's time
 * limit. Anything else thrown while sending (an answer that is not JSON, a bug) is no reason to retry.
 */
function isNetworkError(error: unknown): boolean {
  if (error instanceof DOMException) return error.name === 'TimeoutError' || error.name === 'AbortError';
  return error instanceof TypeError && (error.message === 'fetch failed' || causeCode(error) !== undefined);
}

function describeNetworkError(error: unknown): string {
  if (error instanceof DOMException && error.name === 'TimeoutError')
    return 'no answer within the request timeout';
  const code = causeCode(error);
  const cause = (error as { cause?: { message?: unknown } } | undefined)?.cause;
  const detail =
    typeof cause?.message === 'string' ? cause.message : error instanceof Error ? error.message : '';
  return code ? `${code}${detail && !detail.includes(code) ? ` (${detail})` : ''}` : detail || String(error);
}

/** Decodes a JWT's payload without verifying it: the CLI only shows and uses its own token's claims. */
export function decodeClaims(token: string): TokenClaims {
  const payload = token.split('.')[1];
  if (!payload) throw new CliError('the access token is not a JWT', ExitCode.Unexpected);
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    throw new CliError('the access token is not a JWT', ExitCode.Unexpected);
  }
}

const RETRYABLE_STATUSES: Record<RetryMode, ReadonlySet<number>> = {
  all: new Set([429, 502, 503, 504]),
  unsent: new Set([429, 503]),
};

/** The gateway's API for one command: authentication, token cache, retries, and errors as exit codes. */
export class Api {
  readonly client: GatehouseClient;
  private readonly cache: TokenCache | undefined;
  private readonly cacheKey: string;
  private current: AccessToken | undefined;

  constructor(
    readonly config: Config,
    private readonly runtime: Runtime,
  ) {
    this.client = createGatehouseClient({
      baseUrl: config.apiUrl,
      headers: { 'User-Agent': `gatehouse-cli/${CLI_VERSION} node/${process.versions.node}` },
      fetch: (request) => runtime.fetch(request),
    });
    this.cache = config.tokenCache
      ? new TokenCache(cacheDirectory(runtime.env, runtime.homeDirectory))
      : undefined;
    this.cacheKey = tokenCacheKey(config.apiUrl, config.clientId, config.apiKey);
  }

  /** Progress and retry notes, on stderr so that stdout stays the command's output. */
  note(message: string): void {
    this.runtime.stderr.write(`gatehouse: ${message}\n`);
  }

  debug(message: string): void {
    if (this.config.verbose) this.note(message);
  }

  /**
   * A token to send: the cached one while it has more than a minute left, else a new one from
   * `POST /api/v1/auth/m2m/authenticate` (cached in turn). `fresh` skips the cache.
   */
  async accessToken(options: { fresh?: boolean } = {}): Promise<AccessToken> {
    const now = this.runtime.now();
    if (!options.fresh && this.current && this.current.expiresAt - 60_000 > now) return this.current;
    const cached = options.fresh ? undefined : this.cache?.read(this.cacheKey, now);
    if (cached) {
      this.debug('using the cached access token');
      this.current = { token: cached.access_token, expiresAt: cached.expires_at, fromCache: true };
      return this.current;
    }
    const { data } = await this.request(
      'authentication',
      (init) =>
        this.client.POST('/api/v1/auth/m2m/authenticate', {
          ...init,
          headers: { ...init.headers, 'X-API-Key': this.config.apiKey },
          body: { client_id: this.config.clientId },
        }),
      { retry: 'all', authenticated: false },
    );
    const expiresAt = this.runtime.now() + data.expires_in * 1000;
    this.current = { token: data.access_token, expiresAt, fromCache: false };
    if (this.cache) {
      try {
        this.cache.write(this.cacheKey, { access_token: data.access_token, expires_at: expiresAt });
      } catch (error) {
        // A read-only home directory costs an authentication per command, nothing else.
        this.note(`could not cache the access token (${(error as Error).message}); continuing without`);
      }
    }
    return this.current;
  }

  forgetToken(): void {
    this.current = undefined;
    this.cache?.delete(this.cacheKey);
  }

  async claims(): Promise<TokenClaims> {
    return decodeClaims((await this.accessToken()).token);
  }

  /**
   * Sends a request of the generated client with retries, and gives its data or throws an ApiError (the server's
   * `message` and `request_id`) or a CliError for a network failure. A cached token the server no longer accepts
   * (revoked, expired early, signing key changed) is dropped and the request sent once more with a new one.
   */
  async request<T>(
    what: string,
    send: (init: AttemptInit) => Promise<ClientResult<T>>,
    options: RequestOptions,
  ): Promise<Answer<T>> {
    const authenticated = options.authenticated !== false;
    let token = authenticated ? await this.accessToken() : undefined;
    let answer = await this.sendWithRetries(what, send, options, token?.token);
    if (authenticated && answer.response.status === 401 && token?.fromCache) {
      this.debug('the cached access token was refused; authenticating again');
      this.forgetToken();
      token = await this.accessToken({ fresh: true });
      answer = await this.sendWithRetries(what, send, options, token.token);
    }
    const { result, attempts } = answer;
    if (result.response.ok) return { data: result.data as T, response: result.response, attempts };
    const body = isServerError(result.error) ? result.error : undefined;
    throw new ApiError(what, result.response.status, body, attempts);
  }

  private async sendWithRetries<T>(
    what: string,
    send: (init: AttemptInit) => Promise<ClientResult<T>>,
    options: RequestOptions,
    token: string | undefined,
  ): Promise<{ result: ClientResult<T>; response: Response; attempts: number }> {
    const retryable = RETRYABLE_STATUSES[options.retry];
    const decide = (settled: Settled<ClientResult<T>>): RetryDecision => {
      if (!settled.ok) {
        if (!isNetworkError(settled.error)) return { retry: false };
        const code = causeCode(settled.error);
        if (options.retry === 'unsent' && !(code && NOT_SENT.has(code))) return { retry: false };
        return { retry: true, reason: describeNetworkError(settled.error) };
      }
      const { response, error } = settled.value;
      const serverError = isServerError(error) ? error : undefined;
      const inProgress =
        options.retryInProgress &&
        response.status === 409 &&
        serverError?.error === 'idempotency_in_progress';
      if (!retryable.has(response.status) && !inProgress) return { retry: false };
      const reason = `HTTP ${response.status}${serverError ? ` ${serverError.error}` : ''}`;
      const retryAfterMs =
        parseRetryAfter(response.headers.get('retry-after'), this.runtime.now()) ??
        (serverError?.retry_after !== undefined ? serverError.retry_after * 1000 : undefined);
      return { retry: true, reason, retryAfterMs };
    };
    const outcome = await retrying<ClientResult<T>>(
      async () => {
        const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
        const result = await send({ headers, signal: AbortSignal.timeout(this.config.requestTimeoutMs) });
        this.debug(
          `${what}: HTTP ${result.response.status}` +
            (result.response.headers.get('x-request-id')
              ? ` (request_id ${result.response.headers.get('x-request-id')})`
              : ''),
        );
        return result;
      },
      {
        policy: this.config.retry,
        clock: { now: () => this.runtime.now(), sleep: (ms) => this.runtime.sleep(ms) },
        random: () => this.runtime.random(),
        decide,
        onRetry: ({ attempt, delayMs, reason }) =>
          this.note(
            `${what}: ${reason}; retrying in ${(delayMs / 1000).toFixed(1)} s ` +
              `(attempt ${attempt + 1} of at most ${this.config.retry.maxAttempts})`,
          ),
      },
    );
    const { settled, attempts, exhausted } = outcome;
    if (!settled.ok && !isNetworkError(settled.error)) {
      const reason = settled.error instanceof Error ? settled.error.message : String(settled.error);
      throw new CliError(`${what} failed: unexpected answer: ${reason}`, ExitCode.Unexpected);
    }
    if (!settled.ok) {
      const after = attempts > 1 ? ` after ${attempts} attempts${exhausted ? ` (${exhausted})` : ''}` : '';
      throw new CliError(
        `${what} failed${after}: could not reach ${this.config.apiUrl}: ${describeNetworkError(settled.error)}`,
        ExitCode.Unavailable,
      );
    }
    if (exhausted) this.debug(`${what}: giving up after ${exhausted}`);
    return { result: settled.value, response: settled.value.response, attempts };
  }
}
