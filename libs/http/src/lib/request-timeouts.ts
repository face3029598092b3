/** Longest time the request headers alone may take: a real client sends them in one go. */
export const HEADERS_TIMEOUT_CAP_MS = 10_000;

/** Longest delay between a timeout passing and Node noticing it (Node's default checks every 30 s). */
export const CONNECTIONS_CHECK_INTERVAL_MS = 1000;

export interface RequestTimeouts {
  /** Fastify's `requestTimeout` (Node's `server.requestTimeout`): the whole request, headers and body. */
  requestTimeout: number;
  /** Node's `server.headersTimeout`; Node requires it to be at most `requestTimeout`. */
  headersTimeout: number;
  /** Node's `connectionsCheckingInterval`: how often both timeouts are checked. */
  connectionsCheckingInterval: number;
}

/**
 * The server timeouts for REQUEST_TIMEOUT_MS. Fastify's default `requestTimeout` is 0 (never), Node's
 * `headersTimeout` is 60 s and both are only checked every 30 s: a client sending a request slowly (the gateway
 * streams its body to an upstream as it arrives) could hold a connection, and an upstream connection, for as
 * long as it liked. With these, a request not received in time is answered 408 `request_timeout` (by
 * `answerClientError`) within about REQUEST_TIMEOUT_MS plus one check interval.
 */
export function requestTimeouts(requestTimeoutMs: number): RequestTimeouts {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(requestTimeoutMs, HEADERS_TIMEOUT_CAP_MS),
    connectionsCheckingInterval: Math.min(requestTimeoutMs, CONNECTIONS_CHECK_INTERVAL_MS),
  };
}
