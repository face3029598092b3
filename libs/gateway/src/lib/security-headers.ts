import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * Helmet's settings for a JSON-only API: nothing the gateway serves is HTML (`/api/docs` is the OpenAPI
 * document as JSON), so the policy allows no content at all and no framing. Helmet's other defaults stay:
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
 * Security headers on every response of the gateway: its own routes, proxied responses, preflights, and every
 * error (404, 413, 429, 502, 504), since they are set in `onRequest`, before anything can answer. Register it
 * before any other hook that may answer a request.
 *
 * `Cache-Control: no-store` is a default: it is set on the raw response, and a `Cache-Control` the route sets
 * (or the upstream sends, copied by the proxy) is written with the headers and replaces it.
 */
export async function registerSecurityHeaders(fastify: FastifyInstance): Promise<void> {
  await fastify.register(helmet, { ...SECURITY_HEADERS_OPTIONS, global: true });
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.raw.setHeader('cache-control', DEFAULT_CACHE_CONTROL);
    done();
  });
}
