import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import proxy from '@fastify/http-proxy';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawServerBase,
  RouteGenericInterface,
} from 'fastify';
import { GatehouseError } from '@gatehouse/contracts';
import { toErrorResponse } from '@gatehouse/http';
import { bodyLimitLookup, receiveWhole, registerBodyLimit, type RouteBodyLimit } from './body-limit';
import { clientResponseHeaders, forwardedRequestHeaders, withGatewaySecret } from './forwarding-headers';

export interface UpstreamRoute {
  /** Public path prefix, forwarded unchanged. */
  prefix: string;
  upstream: string;
}

/** Registers hooks on the proxied routes' scope (e.g. rate limiting); may answer a request itself. */
export type ProxyGuard = (scope: FastifyInstance) => void | Promise<void>;

export interface UpstreamProxyOptions {
  routes: UpstreamRoute[];
  timeoutMs: number;
  connectionsPerUpstream: number;
  /** The body limit of every proxied route, except those of `routeBodyLimits`. */
  bodyLimitBytes: number;
  /**
   * Routes held to their own body limit (e.g. `POST /api/v1/findings`, which takes scanners' reports), by method
   * and exact normalized path; see {@link RouteBodyLimit}.
   */
  routeBodyLimits?: readonly RouteBodyLimit[];
  /**
   * Run in order, in the proxied routes' scope, after the body limit's checks and before anything is forwarded.
   * The gateway-wide hooks (security headers, CORS) run before them, so their answers carry those headers too.
   */
  guards?: ProxyGuard[];
  /** Sent in `X-Gatehouse-Gateway-Secret` with every forwarded request: the services' proof it comes from here. */
  gatewaySecret?: string;
}

/**
 * Methods forwarded. Not OPTIONS: the services speak no CORS, so the gateway answers preflights itself (with
 * CORS_ORIGINS set) or 404s them.
 */
export const PROXIED_METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT'];

type AnyReply = FastifyReply<RouteGenericInterface, RawServerBase>;

function sendError(reply: AnyReply, error: unknown): void {
  const request = reply.request;
  const response = toErrorResponse(error, request.id);
  // Fastify's own logger is off (pino-http logs every request); pino-http logs `res.err` with the request's line,
  // so an unexpected error appears once, with its request id, instead of a bare "failed with status code 500".
  if (response.unexpected) (reply.raw as { err?: unknown }).err = error;
  void reply.status(response.status).headers(response.headers);
  // A body not read to its end would otherwise be read and discarded by Node to reuse the connection, however
  // long it is: close the connection instead, as Fastify does after its own body errors.
  if (!request.raw.complete) void reply.header('connection', 'close');
  void reply.send(response.body);
}

function upstreamFailure(error: { statusCode?: number }): GatehouseError {
  return error.statusCode === 504
    ? new GatehouseError('gateway_timeout', 'The upstream service did not answer in time')
    : new GatehouseError('bad_gateway', 'The upstream service is unavailable');
}

/**
 * Mounts one keep-alive undici pool per upstream. Bodies are received whole, then forwarded as the bytes they
 * were (never parsed, never decoded), each held to its route's limit: `bodyLimitBytes`, or its entry of
 * `routeBodyLimits` (see {@link registerBodyLimit}). Headers are rewritten in
 * both directions (see forwarding-headers.ts). A service that cannot be reached, or sends no response headers
 * within `timeoutMs`, gets the client a 502 `bad_gateway` or 504 `gateway_timeout` in the error shape.
 */
export async function registerUpstreamProxy(
  fastify: FastifyInstance,
  options: UpstreamProxyOptions,
): Promise<void> {
  // One encapsulated scope for every proxied route, with its own error handler: these routes are Fastify's,
  // not Nest's, so Nest's exception filter never sees their errors.
  await fastify.register(async (scope) => {
    scope.setErrorHandler((error, _request, reply) => sendError(reply, error));

    // Built before anything is registered: a wrong table stops the gateway at start.
    const limitOf = bodyLimitLookup({
      defaultBytes: options.bodyLimitBytes,
      routes: options.routeBodyLimits,
    });
    registerBodyLimit(scope, limitOf);
    for (const guard of options.guards ?? []) await guard(scope);
    // Bodies are received whole before anything is forwarded, as a buffering proxy does: a client that sends its
    // body slowly holds only its own socket here (until REQUEST_TIMEOUT_MS), never one of the few pooled
    // connections to a service, so slow senders cannot starve a service for everyone. The bytes are forwarded as
    // they came (never re-encoded, never decompressed), and at most the route's limit is held per request. Only
    // after every onRequest hook: the guards judge the credentials before a byte of the body is read.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', async (request: FastifyRequest, payload: IncomingMessage) =>
      Readable.from(await receiveWhole(payload, limitOf(request.method, request.url))),
    );

    for (const route of options.routes) {
      await scope.register(proxy, {
        upstream: route.upstream,
        prefix: route.prefix,
        rewritePrefix: route.prefix,
        httpMethods: PROXIED_METHODS,
        // The scope's buffering parser above, not the proxy's pass-through one.
        proxyPayloads: false,
        undici: {
          connections: options.connectionsPerUpstream,
          pipelining: 1,
          keepAliveTimeout: 60_000,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        },
        replyOptions: {
          rewriteRequestHeaders: (request, headers) =>
            withGatewaySecret(forwardedRequestHeaders(request, headers), options.gatewaySecret),
          rewriteHeaders: (headers) => clientResponseHeaders(headers),
          onError: (reply, { error }) => sendError(reply, upstreamFailure(error as { statusCode?: number })),
        },
      });
    }
  });
}
