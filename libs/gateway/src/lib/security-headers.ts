import type { FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * Helmet's settings for a JSON API, kept as the reference {@link SECURITY_HEADERS} is checked against
 * (security-headers.spec.ts): the gateway writes that fixed set itself instead of running helmet per request: the policy allows no content at all and no framing. The one HTML page, the
 * API reference at `/api/docs` for browsers, replaces it with a policy of its own (api-reference.ts). Helmet's
 * other defaults stay:
 * `X-Content-Type-Options: nosniff`, `Strict-Transport-Security: max-age=31536000; includeSubDomains`,
 * `Cross-Origin-Opener-Policy`/`Cross-Origin-Resource-Policy: same-origin`, `X-Powered-By` removed, and the
 * legacy `X-DNS-Prefetch-Control`, `X-Download-Options`, `X-Permitted-Cross-Domain-Policies`, `X-XSS-Protection: 0`.
 */
export const SECURITY_HEADERS_OPTIONS: FastifyHelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
};

/** Responses carry tokens and keys: no cache keeps them unless the route says otherwise (JWKS, /api/docs). */
export const DEFAULT_CACHE_CONTROL = 'no-store';

/**
 * Every header {@link registerSecurityHeaders} gives a response, as one static set, for the answers no hook
 * sees: Node's own (431 for oversized headers, 400 for a request that is not HTTP, written on the socket) and
 * Fastify's router errors (400 bad percent-encoding, 414 over-long path parameter). createHttpApp writes them
 * on those (its `answerHeaders` option); security-headers.spec.ts holds this set equal to what helmet writes.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
  'cache-control': DEFAULT_CACHE_CONTROL,
};

const SECURITY_HEADER_ENTRIES = Object.entries(SECURITY_HEADERS);

/**
 * Security headers on every response of the gateway: its own routes, proxied responses, preflights, and every
 * error (404, 413, 429, 502, 504), since they are set in `onRequest`, before anything can answer. Register it
 * before any other hook that may answer a request.
 *
 * They are set on the raw response, as defaults: a header the route sets (the API reference's own
 * Content-Security-Policy, a `Cache-Control` of the route or copied from the upstream by the proxy) is written
 * with the status line and replaces it. The set is fixed, so it is written as it is instead of being rebuilt per
 * request by helmet's middleware.
 */
export function registerSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (_request, reply, done) => {
    const raw = reply.raw;
    for (const [name, value] of SECURITY_HEADER_ENTRIES) raw.setHeader(name, value);
    done();
  });
}
