import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { FORWARDING_HEADERS, GATEWAY_SECRET_HEADER, REQUEST_ID_HEADER } from '@gatehouse/http';
import { TRACE_CONTEXT_HEADERS } from '@gatehouse/telemetry';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, never the message, so a proxy drops them
 * in both directions, together with every header the `Connection` header names. `proxy-connection` is the
 * non-standard alias some clients still send.
 *
 * @fastify/reply-from already drops, towards the upstream, `Connection`, the headers it names and
 * `Transfer-Encoding`; and, towards the client, `Transfer-Encoding` only (the other ones only for HTTP/2
 * clients). Undici refuses to send `Upgrade`, which would turn a stray client header into a 502.
 */
export const HOP_BY_HOP_HEADERS: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/**
 * Headers only the gateway may set towards a service. Whatever a client sends under these names is dropped
 * before forwarding, then the gateway writes its own values (`X-Forwarded-For`, `X-Forwarded-Proto`).
 */
export const GATEWAY_OWNED_HEADERS: readonly string[] = FORWARDING_HEADERS;

/** Prefix of the headers that carry the gateway's word to a service (identity and the like); never a client's. */
export const RESERVED_HEADER_PREFIX = 'x-gatehouse-';

/** Upstream headers the client never sees: software banners, and CORS, which is the gateway's alone. */
const UPSTREAM_ONLY_HEADERS: readonly string[] = ['server', 'x-powered-by'];
const CORS_HEADER_PREFIX = 'access-control-';

/** The header names a `Connection` value lists (`Connection: keep-alive, x-foo` → keep-alive, x-foo). */
function connectionOptions(value: string | string[] | number | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(',') : String(value);
  return joined
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
}

/** Removes, in place, the hop-by-hop headers and those named by `Connection`; keys must be lower case. */
export function stripHopByHopHeaders<T extends Record<string, unknown>>(headers: T): T {
  const named = connectionOptions(headers['connection'] as string | string[] | undefined);
  for (const name of [...HOP_BY_HOP_HEADERS, ...named]) delete headers[name];
  return headers;
}

export interface ForwardedRequest {
  id: string;
  ip: string;
  protocol: string;
}

/**
 * The headers sent to a service: the client's, without hop-by-hop and gateway-owned ones, plus the gateway's
 * request id and forwarding headers. `X-Forwarded-For` is replaced, not appended to: it holds the one client
 * address the gateway determined (`request.ip`: the peer, or, behind TRUSTED_PROXIES, the address those proxies
 * reported), so no address a client wrote itself ever reaches a service. The client's trace context
 * (`traceparent`, `tracestate`, `baggage`) is dropped too: with tracing on, the gateway's own span continues the
 * client's trace and the tracing of the upstream request writes the gateway's current context instead (a copy of
 * the client's header would name the client's span as the service's parent, skipping the gateway's).
 */
export function forwardedRequestHeaders(
  request: ForwardedRequest,
  headers: IncomingHttpHeaders,
): IncomingHttpHeaders {
  const rewritten = stripHopByHopHeaders({ ...headers });
  for (const name of GATEWAY_OWNED_HEADERS) delete rewritten[name];
  for (const name of TRACE_CONTEXT_HEADERS) delete rewritten[name];
  // Node answered the client's `Expect: 100-continue` already; undici refuses to send the header at all, which
  // would turn it into a 502, and the body streams to the service either way.
  delete rewritten['expect'];
  rewritten[REQUEST_ID_HEADER] = request.id;
  rewritten['x-forwarded-for'] = request.ip;
  rewritten['x-forwarded-proto'] = request.protocol;
  return rewritten;
}

/**
 * Adds GATEWAY_SECRET under its reserved header: a service believes the `X-Forwarded-For` written above only on a
 * request carrying it. Client `X-Gatehouse-*` headers were dropped on arrival, so the value is always ours.
 */
export function withGatewaySecret(
  headers: IncomingHttpHeaders,
  secret: string | undefined,
): IncomingHttpHeaders {
  if (secret) headers[GATEWAY_SECRET_HEADER] = secret;
  return headers;
}

/** The headers of a service's response as the client gets them. */
export function clientResponseHeaders<T extends Record<string, unknown>>(headers: T): T {
  stripHopByHopHeaders(headers);
  for (const name of Object.keys(headers)) {
    if (UPSTREAM_ONLY_HEADERS.includes(name) || name.startsWith(CORS_HEADER_PREFIX)) delete headers[name];
  }
  return headers;
}

/**
 * Drops every `X-Gatehouse-*` header a client sent, as the first thing done with a request: hooks that run
 * later (authentication, rate limiting) may set their own for the services, which then reach them untouched.
 */
export function registerReservedHeaderFilter(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    const headers = request.raw.headers;
    for (const name of Object.keys(headers)) {
      if (name.startsWith(RESERVED_HEADER_PREFIX)) delete headers[name];
    }
    done();
  });
}
