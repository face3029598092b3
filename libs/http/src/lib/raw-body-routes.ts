import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatehouseError } from '@gatehouse/contracts';

/**
 * A route that receives its body as the bytes that were sent (a Buffer), with a body limit of its own, instead of
 * parsed JSON held to BODY_LIMIT_BYTES: an upload that the service decompresses and parses as a stream itself.
 */
export interface RawBodyRoute {
  method: 'POST' | 'PUT';
  /** The route's path as declared, e.g. `/api/v1/findings`. */
  url: string;
  bodyLimitBytes: number;
  /** Names the limit in the 413 answer, e.g. `SCAN_MAX_UPLOAD_BYTES`. */
  bodyLimitName: string;
  /** Accepted media types, lower case, without parameters; anything else gets 415 naming them. */
  mediaTypes: readonly string[];
}

interface RawBodyRouteConfig {
  rawBody?: RawBodyRoute;
}

/** The raw-body route a request was routed to, if any. */
export function rawBodyRouteOf(request: FastifyRequest): RawBodyRoute | undefined {
  return (request.routeOptions.config as RawBodyRouteConfig | undefined)?.rawBody;
}

export function unsupportedMediaType(route: RawBodyRoute | undefined): GatehouseError {
  const accepted = route ? route.mediaTypes.join(' or ') : 'application/json';
  return new GatehouseError('unsupported_media_type', `Content-Type must be ${accepted}`);
}

/**
 * Gives each listed route its own body limit (Fastify enforces it while receiving, chunked bodies included) and
 * marks it for the body parsers of create-http-app.ts. A declared Content-Length above the limit is refused before
 * any of the body is read, with the limit named; a chunked body crossing it gets Fastify's 413.
 */
export function registerRawBodyRoutes(fastify: FastifyInstance, routes: readonly RawBodyRoute[]): void {
  if (routes.length === 0) return;
  fastify.addHook('onRoute', (options) => {
    const methods = Array.isArray(options.method) ? options.method : [options.method];
    const route = routes.find(
      (candidate) => candidate.url === options.url && methods.includes(candidate.method),
    );
    if (!route) return;
    options.bodyLimit = route.bodyLimitBytes;
    options.config = { ...options.config, rawBody: route };
  });
  fastify.addHook('onRequest', (request, _reply, done) => {
    const route = rawBodyRouteOf(request);
    const declared = Number(request.headers['content-length'] ?? 0);
    done(
      route && declared > route.bodyLimitBytes
        ? new GatehouseError(
            'payload_too_large',
            `Request body is larger than ${route.bodyLimitName} (${route.bodyLimitBytes} bytes)`,
            { limit: route.bodyLimitName, max: route.bodyLimitBytes },
          )
        : undefined,
    );
  });
}
