import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { GatehouseError } from '@gatehouse/contracts';
import { normalizeRequestUrl } from './path-normalization';

export function payloadTooLarge(limitBytes: number): GatehouseError {
  return new GatehouseError('payload_too_large', `Request body is larger than ${limitBytes} bytes`);
}

/** One route whose bodies are held to their own limit instead of the default one. */
export interface RouteBodyLimit {
  /** Upper case, as Fastify reports it: `POST`. */
  method: string;
  /**
   * The path exactly, in its normalized spelling (see path-normalization.ts), without a query: the limit of
   * `POST /api/v1/findings` is neither that of `/api/v1/findings/x` nor of `/api/v1/findings/`.
   */
  path: string;
  limitBytes: number;
}

export interface BodyLimits {
  /** Every route that `routes` does not list. */
  defaultBytes: number;
  routes?: readonly RouteBodyLimit[];
}

/** The limit of one request, looked up by its method and its path (the query string never counts). */
export type BodyLimitOf = (method: string, url: string) => number;

function isLimit(bytes: number): boolean {
  return Number.isSafeInteger(bytes) && bytes > 0;
}

/**
 * The lookup of a table of limits. A wrong table is a programming error and fails at start: a path that is not in
 * its normalized spelling would never match a request (routing only ever sees normalized URLs), so its route would
 * silently keep the default limit.
 */
export function bodyLimitLookup(limits: BodyLimits): BodyLimitOf {
  if (!isLimit(limits.defaultBytes)) {
    throw new Error(`The default body limit must be a positive integer, not ${limits.defaultBytes}`);
  }
  const byRoute = new Map<string, number>();
  for (const route of limits.routes ?? []) {
    const key = `${route.method} ${route.path}`;
    const normalized = normalizeRequestUrl(route.path);
    if (!/^[A-Z]+$/.test(route.method))
      throw new Error(`Body limit of ${key}: the method must be upper case`);
    if (route.path.includes('?') || !normalized.ok || normalized.url !== route.path) {
      throw new Error(`Body limit of ${key}: the path must be a normalized path without a query`);
    }
    if (!isLimit(route.limitBytes)) {
      throw new Error(`Body limit of ${key}: must be a positive integer, not ${route.limitBytes}`);
    }
    if (byRoute.has(key)) throw new Error(`Body limit of ${key}: listed twice`);
    byRoute.set(key, route.limitBytes);
  }
  return (method, url) => {
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    return byRoute.get(`${method} ${path}`) ?? limits.defaultBytes;
  };
}

/**
 * Refuses a declared `Content-Length` above the request's limit before any of the body is read (onRequest, ahead of
 * the scope's guards); Node's HTTP parser then enforces a declared length, so extra bytes are never part of this
 * body. A chunked body is held to the same limit as it arrives, by {@link receiveWhole}.
 */
export function registerBodyLimit(scope: FastifyInstance, limitOf: BodyLimitOf): void {
  scope.addHook('onRequest', (request, _reply, done) => {
    const limitBytes = limitOf(request.method, request.url);
    const declared = Number(request.headers['content-length'] ?? 0);
    done(declared > limitBytes ? payloadTooLarge(limitBytes) : undefined);
  });
}

/**
 * Reads a request body to its end, as the chunks of bytes that came (never decoded: a gzip body stays gzip; never
 * copied into one buffer, which would hold it twice at the end). Fails with 413 as soon as more than `limitBytes`
 * have arrived, having held at most that much; the rest is never waited for. Fastify's own buffering parser
 * cannot do this: its limit is one per route, for every method, not one per method and path.
 */
export function receiveWhole(body: Readable, limitBytes: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let ended = false;
    const stop = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onAbort);
      body.off('close', onClose);
    };
    function onData(chunk: Buffer): void {
      received += chunk.length;
      if (received > limitBytes) {
        // Unread data is dropped from here on; the answer closes the connection (see upstream-proxy's sendError).
        stop();
        chunks.length = 0;
        reject(payloadTooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    }
    function onEnd(): void {
      ended = true;
      stop();
      resolve(chunks);
    }
    function onAbort(): void {
      stop();
      // The client went away (or was timed out) mid-body: a 4xx of its own, not a failure of a dependency of ours.
      reject(new GatehouseError('bad_request', 'The request body was not received whole'));
    }
    function onClose(): void {
      if (!ended) onAbort();
    }
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onAbort);
    body.on('close', onClose);
  });
}
