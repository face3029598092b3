import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '@gatehouse/contracts';
import { METRICS_PATH, type GatehouseMetrics } from './metrics';
import { REQUEST_ID_HEADER } from './request-id';

/** The port of `PORT` or `MANAGEMENT_PORT` is taken, or needs privileges this process lacks. */
export class PortUnavailableError extends Error {
  constructor(
    readonly port: number,
    readonly host: string,
    readonly reason: 'in use' | 'not permitted',
    readonly variable: 'PORT' | 'MANAGEMENT_PORT' = 'PORT',
  ) {
    super(
      reason === 'in use'
        ? `port ${port} is in use on ${host}: set ${variable} to a free port (0 picks one)`
        : `port ${port} on ${host} needs privileges this process lacks: set ${variable} to a port above 1023`,
    );
    this.name = 'PortUnavailableError';
  }
}

/** Turns a listen failure into the one-line refusal naming the variable that moves the port. */
export function portUnavailable(
  error: unknown,
  port: number,
  host: string,
  variable: 'PORT' | 'MANAGEMENT_PORT',
): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new PortUnavailableError(port, host, 'in use', variable);
  if (code === 'EACCES') return new PortUnavailableError(port, host, 'not permitted', variable);
  return error;
}

export interface ManagementServer {
  /** `http://host:port` as this process reaches it. */
  url: string;
  close(): Promise<void>;
}

function answerError(response: ServerResponse, code: ErrorCode, message: string, allow?: string): void {
  const requestId = randomUUID();
  const body: ErrorBody = { error: code, message, request_id: requestId };
  response.writeHead(ERROR_STATUS[code], {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    [REQUEST_ID_HEADER]: requestId,
    ...(allow ? { allow } : {}),
  });
  response.end(JSON.stringify(body));
}

/**
 * The request handler of the management listener: `GET /metrics` and nothing else. Plain node:http rather than a
 * second Fastify or Nest app: one route, no body, no hooks, and nothing of the public app's pipeline (request
 * logs, gateway trust, the HTTP metrics themselves) applies to a scrape.
 */
export function managementHandler(metrics: GatehouseMetrics) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== METRICS_PATH) {
      answerError(response, 'not_found', 'Not found: the management port serves GET /metrics only');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      answerError(response, 'method_not_allowed', 'Method not allowed', 'GET, HEAD');
      return;
    }
    metrics.expose().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      () => answerError(response, 'internal_error', 'Internal error'),
    );
  };
}

/** Where this process reaches a server listening on `host`: loopback when it listens on every address. */
function reachable(host: string, port: number): string {
  const local = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  return `http://${local.includes(':') ? `[${local}]` : local}:${port}`;
}

/** Starts the management listener on `host:port` (0: a free port); refuses a taken port naming MANAGEMENT_PORT. */
export async function startManagementServer(
  metrics: GatehouseMetrics,
  host: string,
  port: number,
): Promise<ManagementServer> {
  const server: Server = createServer(managementHandler(metrics));
  // A scraper keeps its connection between scrapes; shorter than Prometheus' default interval would only reconnect.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw portUnavailable(error, port, host, 'MANAGEMENT_PORT');
  }
  const actual = (server.address() as AddressInfo).port;
  return {
    url: reachable(host, actual),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's idle keep-alive connection must not hold the shutdown.
        server.closeAllConnections();
      }),
  };
}
