import { finished, Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { GatehouseError } from '@gatehouse/contracts';

export function payloadTooLarge(limitBytes: number): GatehouseError {
  return new GatehouseError('payload_too_large', `Request body is larger than ${limitBytes} bytes`);
}

/**
 * Passes a request body through while counting it, and fails as soon as it exceeds the limit: the chunk that
 * crosses it is never passed on. `receivedEncodedLength` is the property Fastify reads on a replaced payload.
 */
class BodyLimitStream extends Transform {
  receivedEncodedLength = 0;
  exceeded = false;

  constructor(private readonly limitBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.receivedEncodedLength += chunk.length;
    if (this.receivedEncodedLength > this.limitBytes) {
      this.exceeded = true;
      callback(payloadTooLarge(this.limitBytes));
      return;
    }
    callback(null, chunk);
  }
}

/** The part of a Fastify request the limit keys on. */
interface LimitedRequest {
  raw: object;
}

export interface BodyLimit {
  /** True once this request's body went over the limit: its failure is a 413, whatever undici reports. */
  exceeded: (request: LimitedRequest) => boolean;
  /** A route `preHandler`: refuses a body that went over the limit before it could be forwarded. */
  refuseExceeded: (request: LimitedRequest, reply: unknown, done: (error?: Error) => void) => void;
}

/**
 * The body limit of proxied routes. @fastify/http-proxy registers a content-type parser that hands the raw
 * request stream to @fastify/reply-from, which streams it to the upstream; Fastify applies `bodyLimit` only to
 * the parsers that buffer (`parseAs`), so without this a chunked body of any size would be forwarded. Two checks:
 * - `onRequest`: a declared `Content-Length` above the limit is refused before anything is forwarded (a declared
 *   length is then enforced by Node's HTTP parser: extra bytes are never part of this body);
 * - `preParsing` (Fastify's hook for replacing the payload stream): a chunked body is counted while it streams,
 *   and the stream fails once the limit is crossed. That aborts the upstream request, which has received at
 *   most the limit, and the proxy's `onError` answers 413 because {@link BodyLimit.exceeded} says so.
 */
export function registerBodyLimit(scope: FastifyInstance, limitBytes: number): BodyLimit {
  const limiters = new WeakMap<object, BodyLimitStream>();

  scope.addHook('onRequest', (request, _reply, done) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    done(declared > limitBytes ? payloadTooLarge(limitBytes) : undefined);
  });

  scope.addHook('preParsing', (request, _reply, payload, done) => {
    // In HTTP/1.1 a body without Content-Length is a chunked one (RFC 9112 §6.3); without either, there is none.
    if (request.headers['transfer-encoding'] === undefined) {
      done(null, payload);
      return;
    }
    const limiter = new BodyLimitStream(limitBytes);
    // Its failure reaches the proxy through undici, which listens to the body it sends, or through
    // `refuseExceeded` before that; this listener only keeps an early failure from being an uncaught 'error'.
    limiter.on('error', () => undefined);
    // pipe() does not pass a failure of the source on (a client gone mid-body): end the body with it.
    finished(payload, (error) => {
      if (error) limiter.destroy(error);
    });
    limiters.set(request.raw, limiter);
    done(null, payload.pipe(limiter));
  });

  const exceeded = (request: LimitedRequest): boolean => limiters.get(request.raw)?.exceeded ?? false;
  return {
    exceeded,
    refuseExceeded: (request, _reply, done) =>
      done(exceeded(request) ? payloadTooLarge(limitBytes) : undefined),
  };
}
