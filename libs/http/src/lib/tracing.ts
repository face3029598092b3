import type { FastifyInstance } from 'fastify';
import { nameRequestSpan } from '@gatehouse/telemetry';

/**
 * With tracing on (createHttpApp registers it only then): each request's span is named after the route Fastify
 * matched. A request no route matched keeps the method alone.
 */
export function registerSpanNaming(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined) nameRequestSpan(request.method, route);
    done();
  });
}
