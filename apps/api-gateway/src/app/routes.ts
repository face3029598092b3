import type { UpstreamRoute } from '@gatehouse/gateway';
import type { ApiGatewayConfig } from './api-gateway.config';

export const AUTHENTICATE_PATH = '/api/v1/auth/m2m/authenticate';

/** Signed leaked-key reports from secret scanners (admin-api). */
export const LEAKED_KEYS_PATH = '/api/v1/leaked-keys';

/** The API routes that all take a token or key: a request with neither is answered 401 by the gateway itself. */
export const CREDENTIAL_PREFIXES = [
  '/api/v1/findings',
  '/api/v1/scans',
  '/api/v1/api-keys',
  '/api/v1/audit-events',
  '/api/v1/me',
  '/api/v1/webhooks',
];

/**
 * The API behind tokens (and direct keys): what the per-key limits count. The leaked-key route takes a signature
 * instead, but is listed too: a report refused for its signature (401) counts as a refused credential against
 * the client's IP, and a blocked IP gets 429 before admin-api spends a signature check on it.
 */
export const API_PREFIXES = [...CREDENTIAL_PREFIXES, LEAKED_KEYS_PATH];

export function upstreamRoutes(config: ApiGatewayConfig): UpstreamRoute[] {
  return [
    { prefix: '/api/v1/auth', upstream: config.AUTH_SERVICE_URL },
    { prefix: '/api/v1/findings', upstream: config.FINDINGS_SERVICE_URL },
    { prefix: '/api/v1/scans', upstream: config.FINDINGS_SERVICE_URL },
    { prefix: '/api/v1/api-keys', upstream: config.ADMIN_API_URL },
    { prefix: '/api/v1/audit-events', upstream: config.ADMIN_API_URL },
    { prefix: '/api/v1/me', upstream: config.ADMIN_API_URL },
    { prefix: '/api/v1/webhooks', upstream: config.ADMIN_API_URL },
    { prefix: LEAKED_KEYS_PATH, upstream: config.ADMIN_API_URL },
  ];
}
