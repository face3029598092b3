import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawServerBase,
  RouteGenericInterface,
} from 'fastify';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { GatehouseError } from '@gatehouse/contracts';
import { Gauge } from 'prom-client';
import { toErrorResponse, type GatehouseMetrics } from '@gatehouse/http';
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
  /** Where the upstream pools' gauges are registered (`gatehouse_upstream_connections`). */
  metrics?: GatehouseMetrics;
}

/** Pool states of `gatehouse_upstream_connections`: undici's counts of one upstream's pool. */
const UPSTREAM_STATES = ['connected', 'free', 'pending', 'running'] as const;

/**
 * Methods forwarded. Not OPTIONS: the services speak no CORS, so the gateway answers preflights itself (with
 * CORS_ORIGINS set) or 404s them.
 */
export const PROXIED_METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT'];

/**
 * Answers up to this size, with a declared length, are read whole from the service and sent as one buffer: every
 * token, finding upload answer and error is far below it. Longer or unsized ones (lists, documents) are streamed.
 * Read whole, an answer that fails half-way is still a clean 502 or 504 instead of a cut connection.
 */
export const WHOLE_ANSWER_MAX_BYTES = 64 * 1024;

type AnyReply = FastifyReply<RouteGenericInterface, RawServerBase>;

function sendError(reply: AnyReply, error: unknown): void {
  const request = reply.request;
  const response = toErrorResponse(error, request.id);
  // The request log writes `res.err` with the request's line, so an unexpected error appears once, with its
  // request id, instead of a bare "failed with status code 500".
  if (response.unexpected) (reply.raw as { err?: unknown }).err = error;
  void reply.status(response.status).headers(response.headers);
  // A body not read to its end would otherwise be read and discarded by Node to reuse the connection, however
  // long it is: close the connection instead, as Fastify does after its own body errors.
  if (!request.raw.complete) void reply.header('connection', 'close');
  void reply.send(response.body);
}

/** undici's timeouts are the service's silence (504); anything else is a service out of reach (502). */
export function upstreamFailure(error: unknown): GatehouseError {
  return error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError
    ? new GatehouseError('gateway_timeout', 'The upstream service did not answer in time')
    : new GatehouseError('bad_gateway', 'The upstream service is unavailable');
}

/** The body as received by the scope's parser: its chunks, or nothing (GET, or a body of no bytes). */
type ReceivedBody = Buffer[] | undefined;

/** What undici sends: one buffer as it is, several as a stream of them with their total declared. */
function outgoingBody(
  chunks: ReceivedBody,
  headers: IncomingHttpHeaders,
): Dispatcher.DispatchOptions['body'] {
  if (!chunks || chunks.length === 0) {
    delete headers['content-length'];
    return undefined;
  }
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  // The bytes received, whatever the client declared or however it framed them (chunked): never re-framed twice.
  headers['content-length'] = String(length);
  return chunks.length === 1 ? chunks[0] : Readable.from(chunks);
}

/** One keep-alive pool per service; `forward` relays one request and its answer. */
class Upstream {
  private readonly pool: Pool;

  constructor(
    origin: string,
    private readonly options: Pick<
      UpstreamProxyOptions,
      'timeoutMs' | 'connectionsPerUpstream' | 'gatewaySecret'
    >,
  ) {
    this.pool = new Pool(origin, {
      connections: options.connectionsPerUpstream,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** Resolves to the reply, sent or being sent: an async Fastify handler must, or Fastify sends it again. */
  async forward(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const headers = withGatewaySecret(
      forwardedRequestHeaders(request, request.headers),
      this.options.gatewaySecret,
    );
    const method = request.method;
    let answer: Dispatcher.ResponseData;
    try {
      answer = await this.pool.request({
        path: request.url,
        method,
        headers,
        body: outgoingBody(request.body as ReceivedBody, headers),
      });
    } catch (error) {
      sendError(reply, upstreamFailure(error));
      return reply;
    }
    const { statusCode, headers: answerHeaders, body } = answer;
    const declared = answerHeaders['content-length'];
    if (method === 'HEAD' || statusCode === 204 || statusCode === 304) {
      await body.dump();
      return reply.status(statusCode).headers(clientResponseHeaders(answerHeaders)).send();
    }
    if (declared !== undefined && Number(declared) <= WHOLE_ANSWER_MAX_BYTES) {
      let bytes: Buffer;
      try {
        bytes = Buffer.from(await body.arrayBuffer());
      } catch (error) {
        sendError(reply, upstreamFailure(error));
        return reply;
      }
      return reply.status(statusCode).headers(clientResponseHeaders(answerHeaders)).send(bytes);
    }
    // Streamed: a failure half-way can only cut the connection, which tells the client the answer is incomplete.
    body.on('error', () => reply.raw.destroy());
    return reply.status(statusCode).headers(clientResponseHeaders(answerHeaders)).send(body);
  }

  /** undici's counts: connections open and free, requests queued for a connection and in flight. */
  stats(): Record<(typeof UPSTREAM_STATES)[number], number> {
    const { connected, free, pending, running } = this.pool.stats;
    return { connected, free, pending, running };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function registerUpstreamMetrics(metrics: GatehouseMetrics, upstreams: Map<string, Upstream>): void {
  const gauge: Gauge<'upstream' | 'state'> = new Gauge({
    name: 'gatehouse_upstream_connections',
    help: "The gateway's connection pool to each upstream (by route prefix): connections open and free, requests pending and running",
    labelNames: ['upstream', 'state'],
    registers: [metrics.registry],
    collect: () => {
      for (const [upstream, pool] of upstreams) {
        const stats = pool.stats();
        for (const state of UPSTREAM_STATES) gauge.set({ upstream, state }, stats[state]);
      }
    },
  });
}

/**
 * Mounts one keep-alive undici pool per upstream, and for each route prefix the routes `prefix` and `prefix/*`
 * forwarding to it. Bodies are received whole, then forwarded as the bytes they were (never parsed, never
 * decoded), each held to its route's limit: `bodyLimitBytes`, or its entry of `routeBodyLimits` (see
 * {@link registerBodyLimit}). Headers are rewritten in both directions (see forwarding-headers.ts). A service that
 * cannot be reached, or sends no response headers within `timeoutMs`, gets the client a 502 `bad_gateway` or 504
 * `gateway_timeout` in the error shape.
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
    scope.addContentTypeParser('*', (request: FastifyRequest, payload: IncomingMessage, done) => {
      receiveWhole(payload, limitOf(request.method, request.url)).then(
        (chunks) => done(null, chunks),
        (error: Error) => done(error, undefined),
      );
    });

    const upstreams = new Map<string, Upstream>();
    for (const route of options.routes) {
      const upstream = new Upstream(route.upstream, options);
      upstreams.set(route.prefix, upstream);
      scope.addHook('onClose', () => upstream.close());
      const handler = (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
        upstream.forward(request, reply);
      scope.route({ method: PROXIED_METHODS, url: route.prefix, handler });
      scope.route({ method: PROXIED_METHODS, url: `${route.prefix}/*`, handler });
    }
    if (options.metrics) registerUpstreamMetrics(options.metrics, upstreams);
  });
}
