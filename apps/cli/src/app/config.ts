import { normalizeBaseUrl } from '@gatehouse/api-client';
import { CliError } from './errors';
import { ExitCode } from './exit-codes';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry';
import type { Runtime } from './runtime';

export const ENV = {
  apiUrl: 'GATEHOUSE_API_URL',
  apiKey: 'GATEHOUSE_API_KEY',
  clientId: 'GATEHOUSE_CLIENT_ID',
} as const;

/**
 * What looks like a Gatehouse API key, anywhere in an argument: the shape secret scanners register
 * (`API_KEY_PATTERN` of libs/crypto) and shorter look-alikes, since a mistyped key is still mostly a secret.
 */
const KEY_LIKE = /gth_(?:live|test)_[0-9A-Za-z]{8,}/;
const KEY_FLAGS = /^--?(api-?key|key|secret)(=|$)/i;

/**
 * Why the command line must not be used, if it carries an API key: other users see it in the process list
 * (`ps`), and shells and CI logs keep it. Never quotes the value.
 */
export function keyOnCommandLine(args: readonly string[]): string | undefined {
  const flag = args.find((arg) => KEY_FLAGS.test(arg));
  const keyLike = args.some((arg) => KEY_LIKE.test(arg));
  if (!flag && !keyLike) return undefined;
  const where = flag ? `the ${flag.split('=')[0]} option` : 'an argument that looks like an API key';
  return (
    `refused ${where}: an API key is never taken from the command line, where the process list and shell ` +
    `history would show it. Set ${ENV.apiKey}, or pipe the key to --api-key-stdin`
  );
}

export interface GlobalOptions {
  apiUrl?: string;
  clientId?: string;
  apiKeyStdin?: boolean;
  json?: boolean;
  tokenCache?: boolean;
  verbose?: boolean;
  retries?: number;
  retryMaxTime?: number;
  timeout?: number;
}

export interface Config {
  apiUrl: string;
  clientId: string;
  apiKey: string;
  /** `--json`: upload, token and whoami print for people unless it is given. */
  json: boolean;
  /** `--json`, or stdout is not a terminal: lists and records print JSON, tables are for terminals. */
  machine: boolean;
  tokenCache: boolean;
  verbose: boolean;
  retry: RetryPolicy;
  requestTimeoutMs: number;
}

export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 120;

const CLIENT_ID = /^[A-Za-z0-9._-]{3,50}$/;

function usage(message: string): CliError {
  return new CliError(message, ExitCode.Usage);
}

export function resolveApiUrl(options: GlobalOptions, runtime: Runtime): string {
  const raw = options.apiUrl ?? runtime.env[ENV.apiUrl];
  if (!raw?.trim())
    throw usage(`no API URL: set ${ENV.apiUrl} (or --api-url), e.g. https://gatehouse.example.com`);
  let url: URL;
  try {
    url = new URL(normalizeBaseUrl(raw));
  } catch {
    throw usage(`${ENV.apiUrl} is not a URL: ${raw}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw usage(`${ENV.apiUrl} must be an http(s) URL: ${raw}`);
  }
  return normalizeBaseUrl(url.toString());
}

/** The whole configuration of a command that talks to the API; the key from the environment or stdin only. */
export async function resolveConfig(options: GlobalOptions, runtime: Runtime): Promise<Config> {
  const apiUrl = resolveApiUrl(options, runtime);
  const clientId = (options.clientId ?? runtime.env[ENV.clientId] ?? '').trim();
  if (!clientId) {
    throw usage(
      `no client id: set ${ENV.clientId} (or --client-id) to the client_id registered with the key`,
    );
  }
  if (!CLIENT_ID.test(clientId)) {
    throw usage(`the client id must be 3 to 50 of A-Z a-z 0-9 . _ - (got ${JSON.stringify(clientId)})`);
  }
  const apiKey = options.apiKeyStdin
    ? (await runtime.readStdin()).trim()
    : (runtime.env[ENV.apiKey] ?? '').trim();
  if (!apiKey) {
    throw usage(
      options.apiKeyStdin
        ? 'no API key on standard input (--api-key-stdin)'
        : `no API key: set ${ENV.apiKey} (from your CI's secret store), or pipe it to --api-key-stdin`,
    );
  }
  if (/\s/.test(apiKey)) throw usage('the API key contains white space: give one key, on one line');
  const retry: RetryPolicy = {
    ...DEFAULT_RETRY_POLICY,
    ...(options.retries !== undefined ? { maxAttempts: options.retries + 1 } : {}),
    ...(options.retryMaxTime !== undefined ? { maxElapsedMs: options.retryMaxTime * 1000 } : {}),
  };
  return {
    apiUrl,
    clientId,
    apiKey,
    json: options.json === true,
    machine: options.json === true || !runtime.stdout.isTTY,
    tokenCache: options.tokenCache !== false,
    verbose: options.verbose === true,
    retry,
    requestTimeoutMs: (options.timeout ?? DEFAULT_REQUEST_TIMEOUT_SECONDS) * 1000,
  };
}

/** Plain http sends the key and tokens readable by anyone on the path: fine on this machine only. */
export function insecureTransportWarning(apiUrl: string): string | undefined {
  const url = new URL(apiUrl);
  if (url.protocol === 'https:') return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || /^127\./.test(host)) return undefined;
  return `warning: ${url.origin} is plain http: the API key and tokens cross the network unencrypted; use https`;
}
