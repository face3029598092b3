import type { UpstreamRoute } from '@gatehouse/gateway';
import type { ApiGatewayConfig } from './api-gateway.config';

export const AUTHENTICATE_PATH = '/api/v1/auth/m2m/authenticate';

/** The API behind tokens (and direct keys): what the per-key limits count. */
export const API_PREFIXES = ['/api/v1/findings', '/api/v1/api-keys', '/api/v1/audit-events'];

export function upstreamRoutes(config: ApiGatewayConfig): UpstreamRoute[] {
  return [
    { prefix: '/api/v1/auth', upstream: config.AUTH_SERVICE_URL },
    { prefix: '/api/v1/findings', upstream: config.FINDINGS_SERVICE_URL },
    { prefix: '/api/v1/api-keys', upstream: config.ADMIN_API_URL },
    { prefix: '/api/v1/audit-events', upstream: config.ADMIN_API_URL },
  ];
}
