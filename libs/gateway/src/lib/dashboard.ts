import { existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** What the dashboard learns at run time, so that one build serves every environment. */
export interface DashboardOidcSettings {
  /** The identity provider admin-api trusts (its OIDC_ISSUER), exactly as its tokens' `iss`. */
  issuer: string;
  /** The dashboard's public client (authorization code with PKCE, no secret). */
  clientId: string;
  scope: string;
}

export interface DashboardOptions {
  /** The built dashboard (dist/apps/dashboard): index.html and its hashed assets. */
  dir: string;
  /** Unset: the dashboard says sign-in is not configured. */
  oidc?: DashboardOidcSettings;
}

/**
 * Paths of the JSON API and the probes, however cased: never answered with the dashboard's page, so a wrong URL
 * there stays a 404.
 */
const NOT_DASHBOARD = /^\/(api|health|metrics)(\/|$)/i;

/**
 * A browser navigating (a reload of /keys, the sign-in callback) asks for HTML; API clients, scanners and probes do
 * not, and keep getting the JSON 404 for a path nothing serves, instead of a 200 page.
 */
function isNavigation(accept: string | undefined): boolean {
  return accept !== undefined && /\btext\/html\b/i.test(accept);
}
/** Vite's output: file names carry a content hash, so a browser may keep them for good. */
const IMMUTABLE_ASSET = /^assets\//;
export const DASHBOARD_CONFIG_PATH = '/dashboard/config.json';

/**
 * The policy of the dashboard's documents and assets, instead of the API's `default-src 'none'`: its own scripts and
 * styles only (Vite writes no inline script), calls to the gateway and the identity provider (discovery, token
 * endpoint, refresh), no frames, and no framing by anyone.
 */
export function dashboardContentSecurityPolicy(issuer?: string): string {
  const provider = issuer ? ` ${new URL(issuer).origin}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${provider}`,
    "frame-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function filesUnder(dir: string): Set<string> {
  const entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  return new Set(
    entries
      .filter((entry) => entry.isFile())
      .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/')),
  );
}

/**
 * Serves the built dashboard at `/`: its files as they were at start (a fixed set, so no request can name
 * anything else), `index.html` at `/` and for every other navigation (a GET asking for HTML) that is not an API path and
 * names no file (the dashboard's own routes, such as /keys or /callback), and its run-time settings at {@link DASHBOARD_CONFIG_PATH}. Without
 * `index.html` in `dir` nothing is registered and `/` stays a 404. Returns whether it is served.
 */
export async function registerDashboard(
  fastify: FastifyInstance,
  options: DashboardOptions,
): Promise<boolean> {
  if (!options.dir || !existsSync(join(options.dir, 'index.html'))) return false;
  const files = filesUnder(options.dir);
  const policy = dashboardContentSecurityPolicy(options.oidc?.issuer);
  // serve: false — only the reply.sendFile decorator (ETag, Last-Modified, ranges, content types); the route
  // below decides what may be sent.
  await fastify.register(fastifyStatic, { root: options.dir, serve: false, cacheControl: false });

  const send = (reply: FastifyReply, file: string) => {
    reply.header('content-security-policy', policy);
    // index.html names the current assets: revalidated every time, so a new release is picked up at once.
    reply.header(
      'cache-control',
      IMMUTABLE_ASSET.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    return reply.sendFile(file);
  };

  const config = {
    issuer: options.oidc?.issuer ?? null,
    client_id: options.oidc?.clientId ?? null,
    scope: options.oidc?.scope ?? null,
  };
  fastify.get(DASHBOARD_CONFIG_PATH, (_request, reply) => {
    reply.header('cache-control', 'no-cache');
    return reply.send(config);
  });

  fastify.get('/*', (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if (NOT_DASHBOARD.test(path)) return reply.callNotFound();
    const file = path.slice(1);
    if (files.has(file)) return send(reply, file);
    if (path === '/') return send(reply, 'index.html');
    // A missing asset (an old hash, a typo) is a 404, not a page that would fail to parse as a script.
    if (/\.[A-Za-z0-9]+$/.test(file) || !isNavigation(request.headers.accept)) return reply.callNotFound();
    return send(reply, 'index.html');
  });
  return true;
}
