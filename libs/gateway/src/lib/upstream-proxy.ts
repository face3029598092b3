import type { IncomingHttpHeaders } from 'node:http';
import proxy from '@fastify/http-proxy';
import type { FastifyInstance, FastifyReply, RawServerBase, RouteGenericInterface } from 'fastify';
import { GatehouseError } from '@gatehouse/contracts';
import { REQUEST_ID_HEADER, toErrorResponse } from '@gatehouse/http';

export interface UpstreamRoute {
  /** Public path prefix, forwarded unchanged. */
  prefix: string;
  upstream: string;
}

export interface UpstreamProxyOptions {
  routes: UpstreamRoute[];
  timeoutMs: number;
  connectionsPerUpstream: number;
  bodyLimitBytes: number;
}

/**
 * Headers only the gateway may set. Whatever a client sends under these names is dropped before forwarding,
 * then the gateway writes its own values.
 */
const GATEWAY_OWNED_HEADERS = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
  'forwarded',
];

interface ForwardedRequest {
  id: string;
  ip: string;
  protocol: string;
}

function forwardedHeaders(request: ForwardedRequest, headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const rewritten: IncomingHttpHeaders = { ...headers };
  for (const name of GATEWAY_OWNED_HEADERS) delete rewritten[name];
  rewritten[REQUEST_ID_HEADER] = request.id;
  rewritten['x-forwarded-for'] = request.ip;
  rewritten['x-forwarded-proto'] = request.protocol;
  return rewritten;
}

type AnyReply = FastifyReply<RouteGenericInterface, RawServerBase>;

function sendUpstreamError(reply: AnyReply, error: { statusCode?: number }): void {
  const code = error.statusCode === 504 ? 'gateway_timeout' : 'bad_gateway';
  const message =
    code === 'gateway_timeout'
      ? 'The upstream service did not answer in time'
      : 'The upstream service is unavailable';
  const response = toErrorResponse(new GatehouseError(code, message), reply.request.id);
  void reply.status(response.status).headers(response.headers).send(response.body);
}

/**
 * Mounts one keep-alive undici pool per upstream. Bodies are streamed, not parsed, so the gateway never
 * re-parses JSON; the declared Content-Length is checked against the limit before anything is forwarded.
 */
export async function registerUpstreamProxy(
  fastify: FastifyInstance,
  options: UpstreamProxyOptions,
): Promise<void> {
  // One encapsulated scope for every proxied route, with its own error handler: these routes are Fastify's,
  // not Nest's, so Nest's exception filter never sees their errors.
  await fastify.register(async (scope) => {
    scope.setErrorHandler((error, request, reply) => {
      const response = toErrorResponse(error, request.id);
      if (response.unexpected) request.log.error(error);
      void reply.status(response.status).headers(response.headers).send(response.body);
    });

    scope.addHook('onRequest', (request, _reply, done) => {
      const declared = Number(request.headers['content-length'] ?? 0);
      if (declared > options.bodyLimitBytes) {
        done(
          new GatehouseError(
            'payload_too_large',
            `Request body is larger than ${options.bodyLimitBytes} bytes`,
          ),
        );
        return;
      }
      done();
    });

    for (const route of options.routes) {
      await scope.register(proxy, {
        upstream: route.upstream,
        prefix: route.prefix,
        rewritePrefix: route.prefix,
        undici: {
          connections: options.connectionsPerUpstream,
          pipelining: 1,
          keepAliveTimeout: 60_000,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        },
        replyOptions: {
          rewriteRequestHeaders: forwardedHeaders,
          onError: (reply, { error }) => sendUpstreamError(reply, error as { statusCode?: number }),
        },
      });
    }
  });
}
