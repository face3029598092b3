import type { FastifyInstance } from 'fastify';
import type { GatehouseMetrics } from '@gatehouse/http';
import { registerApiDocs, type OpenApiInfo } from './api-docs';
import type { DocumentedAccess } from './api-docs-access';
import type { RouteBodyLimit } from './body-limit';
import { registerCors } from './cors';
import { registerDashboard, type DashboardOptions } from './dashboard';
import { registerReservedHeaderFilter } from './forwarding-headers';
import { registerPathRefusal } from './path-normalization';
import { registerSecurityHeaders } from './security-headers';
import { registerUpstreamProxy, type ProxyGuard, type UpstreamRoute } from './upstream-proxy';

export interface GatewayOptions {
  routes: UpstreamRoute[];
  /** Response headers within this, or 504; also the timeout of the API documents' fetches. */
  timeoutMs: number;
  connectionsPerUpstream: number;
  /** BODY_LIMIT_BYTES: the body limit of every proxied route but those of `routeBodyLimits`. */
  bodyLimitBytes: number;
  /** Routes with a body limit of their own, by method and exact normalized path (see `RouteBodyLimit`). */
  routeBodyLimits?: readonly RouteBodyLimit[];
  /** Exact origins allowed by CORS; empty: no CORS. */
  corsOrigins: readonly string[];
  /** Hooks of the proxied routes, after the gateway's own checks (see `UpstreamProxyOptions.guards`). */
  guards?: ProxyGuard[];
  apiDocs: { info: OpenApiInfo; access?: DocumentedAccess };
  /** GATEWAY_SECRET, sent to the services with every forwarded request; unset: they believe no client address. */
  gatewaySecret?: string;
  /** The app's metrics: the upstream pools' gauges join them. */
  metrics?: GatehouseMetrics;
  /** The built dashboard served at `/` (see registerDashboard); unset: `/` stays a 404. */
  dashboard?: DashboardOptions;
}

/**
 * Everything the gateway mounts on the app's Fastify instance, in the order its hooks run for a request:
 * 1. client `X-Gatehouse-*` headers dropped, before any hook could set the gateway's own;
 * 2. security headers (and `Cache-Control: no-store` by default), so that every later answer carries them;
 * 3. CORS: preflights answered, and the CORS headers of allowed origins on every later answer;
 * 3b. a path refused by the normalization (see path-normalization.ts, run as Fastify's `rewriteUrl`): 400;
 * 4. the proxied routes' own checks: the declared body length against the route's limit, then the `guards`
 *    (credentials, rate limiting), then the body, received whole within that limit, then forwarding;
 * 5. the merged API documents at /api/docs;
 * 6. the dashboard at `/` and its client routes, with a Content-Security-Policy of its own.
 * A hook that may answer by itself belongs after 1–3 (add it as a guard), so its 413s and 429s carry them.
 */
export async function registerGateway(fastify: FastifyInstance, options: GatewayOptions): Promise<void> {
  registerReservedHeaderFilter(fastify);
  registerSecurityHeaders(fastify);
  await registerCors(fastify, { origins: options.corsOrigins });
  registerPathRefusal(fastify);
  await registerUpstreamProxy(fastify, {
    routes: options.routes,
    timeoutMs: options.timeoutMs,
    connectionsPerUpstream: options.connectionsPerUpstream,
    bodyLimitBytes: options.bodyLimitBytes,
    routeBodyLimits: options.routeBodyLimits,
    guards: options.guards,
    gatewaySecret: options.gatewaySecret,
    metrics: options.metrics,
  });
  await registerApiDocs(fastify, {
    routes: options.routes,
    info: options.apiDocs.info,
    access: options.apiDocs.access,
    timeoutMs: options.timeoutMs,
  });
  if (options.dashboard) await registerDashboard(fastify, options.dashboard);
}
