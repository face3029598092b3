import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
const REQUEST_ID = Symbol('gatehouse:request-id');
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

type WithRequestId = IncomingMessage & { [REQUEST_ID]?: string };

/**
 * One id per request, shared by Fastify, the logger and the error body. An incoming `x-request-id` is kept
 * when it looks like an id (the gateway forwards its own), anything else is replaced so that a client cannot
 * inject log lines or oversized values.
 */
export function resolveRequestId(raw: IncomingMessage): string {
  const holder = raw as WithRequestId;
  const known = holder[REQUEST_ID];
  if (known) return known;
  const header = raw.headers[REQUEST_ID_HEADER];
  const id = typeof header === 'string' && ACCEPTED_REQUEST_ID.test(header) ? header : randomUUID();
  holder[REQUEST_ID] = id;
  return id;
}
