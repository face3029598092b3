import type { FastifyInstance } from 'fastify';
import { GatehouseError } from '@gatehouse/contracts';

export function payloadTooLarge(limitBytes: number): GatehouseError {
  return new GatehouseError('payload_too_large', `Request body is larger than ${limitBytes} bytes`);
}

/**
 * The body limit of proxied routes. Bodies are received whole by the scope's buffering parser, which Fastify holds
 * to its `bodyLimit` as they arrive (chunked ones too: the parser fails as soon as the limit is crossed, before
 * anything is forwarded). This hook refuses a declared `Content-Length` above the limit before any of the body is
 * read; Node's HTTP parser then enforces a declared length, so extra bytes are never part of this body.
 */
export function registerBodyLimit(scope: FastifyInstance, limitBytes: number): void {
  scope.addHook('onRequest', (request, _reply, done) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    done(declared > limitBytes ? payloadTooLarge(limitBytes) : undefined);
  });
}
