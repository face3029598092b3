import cors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/** The entries of a comma-separated list (CORS_ORIGINS), trimmed, empty ones dropped. */
export function parseOriginList(list: string): string[] {
  return list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/**
 * An origin exactly as a browser sends it in `Origin`: `http(s)://host[:port]`, lower case, no default port,
 * no path, no trailing slash, no wildcard. Anything else could never match, so it is refused at start-up.
 */
const HOST_NAME = /^(?:\[[0-9a-f:.]+\]|[a-z0-9-]+(?:\.[a-z0-9-]+)*)$/;

export function isExactOrigin(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'https:' || url.protocol === 'http:') &&
    url.origin === value &&
    HOST_NAME.test(url.hostname)
  );
}

export interface CorsSettings {
  /** Exact origins allowed (a dashboard's); empty: no CORS headers at all. */
  origins: readonly string[];
}

/** How long a browser may reuse a preflight answer, in seconds (Chromium caps it at 7200). */
export const CORS_MAX_AGE_SECONDS = 600;

/** The CORS policy: bearer tokens and API keys in headers, never cookies, so no credentials. */
export function corsOptions(origins: readonly string[]): FastifyCorsOptions {
  return {
    origin: [...origins],
    methods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-API-Key', 'X-Request-Id'],
    exposedHeaders: [
      'X-Request-Id',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
      'Retry-After',
      'WWW-Authenticate',
    ],
    credentials: false,
    maxAge: CORS_MAX_AGE_SECONDS,
    // Every OPTIONS is answered here (204), preflight or not; the strict mode's 400 would be plain text.
    strictPreflight: false,
  };
}

/**
 * CORS for the configured dashboard origins, with @fastify/cors. Its `onRequest` hook answers preflights itself,
 * before any later hook (rate limiting, the proxy's checks): preflights are never forwarded, and the proxy does
 * not forward OPTIONS at all. An allowed origin gets `Access-Control-Allow-Origin` (and `Vary: Origin`) on every
 * response, errors included; any other origin gets no `Access-Control-Allow-Origin`, so its browser refuses to
 * hand the response over. With no origins configured nothing is registered: no CORS header at all, and an
 * OPTIONS request gets the gateway's 404.
 */
export async function registerCors(fastify: FastifyInstance, settings: CorsSettings): Promise<void> {
  if (settings.origins.length === 0) return;
  await fastify.register(cors, corsOptions(settings.origins));
}
