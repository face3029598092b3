import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
const REQUEST_ID = Symbol('gatehouse:request-id');
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** A Gatehouse API key's marker, in any case. */
const API_KEY_MARKER = /gth_/i;
/** A JWT: a JSON header (`{"` is `eyJ` in base64url), or three base64url parts. */
const JWT_LIKE = /^eyJ|^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

type WithRequestId = IncomingMessage & { [REQUEST_ID]?: string };

/**
 * Whether a client's `x-request-id` may be kept. Besides the shape of an id, it must not be a credential: the id
 * is logged by every service, echoed in every answer and stored in the usage log, and a key or token pasted into
 * the wrong header would otherwise end up in all of them.
 */
export function isAcceptableRequestId(value: string): boolean {
  return ACCEPTED_REQUEST_ID.test(value) && !API_KEY_MARKER.test(value) && !JWT_LIKE.test(value);
}

/**
 * One id per request, shared by Fastify, the logger and the error body. An incoming `x-request-id` is kept
 * when it looks like an id (the gateway forwards its own), anything else is replaced so that a client cannot
 * inject log lines or oversized values, nor have a credential logged and stored as an id.
 */
export function resolveRequestId(raw: IncomingMessage): string {
  const holder = raw as WithRequestId;
  const known = holder[REQUEST_ID];
  if (known) return known;
  const header = raw.headers[REQUEST_ID_HEADER];
  const id = typeof header === 'string' && isAcceptableRequestId(header) ? header : randomUUID();
  holder[REQUEST_ID] = id;
  return id;
}
