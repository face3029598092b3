import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { GatehouseError } from '@gatehouse/contracts';
import { toErrorResponse } from '@gatehouse/http';

/**
 * The one spelling of a request path that the gateway routes on, applies its policies to and forwards: the path
 * decoded once, then re-encoded canonically. The services behind route on what the gateway forwards, so every
 * spelling of a path (`/api/v1/%66indings`, `/api/v1/findings`) gets the same route, limits and block.
 */
export type NormalizedUrl = { ok: true; url: string } | { ok: false; reason: string };

/**
 * Characters a path keeps as they are (RFC 3986 `pchar` without `%`, plus `/`); every other character is
 * percent-encoded, upper-case hex, so that a decoded `?`, `#` or space cannot change the URL's meaning.
 */
const PLAIN = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;
const HEX = /^[0-9A-Fa-f]{2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function encodeCanonically(decoded: string): string {
  let out = '';
  for (const character of decoded) {
    if (PLAIN.test(character)) {
      out += character;
      continue;
    }
    for (const byte of Buffer.from(character, 'utf8')) {
      out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/**
 * Decodes the path of a request target once and refuses what could be read two ways:
 * - not an origin-form path (`*`, `http://host/…`), a `#`, a literal `\`;
 * - invalid percent-encoding, or bytes that are not UTF-8;
 * - an encoded `/` or `\` (`%2F`, `%5C`): a service or proxy that decodes it would see another path;
 * - `%25` (an encoded `%`): decoded again by anyone, it would be another path;
 * - NUL and other control characters;
 * - `.` or `..` segments, literal or encoded, and empty segments (`//`), except one trailing slash.
 * The query string is kept byte for byte. Case is kept (routes are case-sensitive everywhere).
 */
export function normalizeRequestUrl(url: string): NormalizedUrl {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt);
  if (!path.startsWith('/')) return { ok: false, reason: 'the request target must be a path' };
  if (path.includes('#')) return { ok: false, reason: 'the path must not contain #' };
  if (path.includes('\\')) return { ok: false, reason: 'the path must not contain a backslash' };

  const bytes: number[] = [];
  for (let index = 0; index < path.length; index += 1) {
    const code = path.charCodeAt(index);
    if (code !== 37) {
      // Node's parser lets through bytes above 0x7e as latin1 characters: take them as the raw bytes they were.
      if (code > 0xff) return { ok: false, reason: 'the path is not valid UTF-8' };
      bytes.push(code);
      continue;
    }
    const hex = path.slice(index + 1, index + 3);
    if (!HEX.test(hex)) return { ok: false, reason: 'the path has an invalid percent-encoding' };
    const byte = Number.parseInt(hex, 16);
    if (byte === 0x2f || byte === 0x5c) {
      return { ok: false, reason: 'the path must not contain an encoded / or \\' };
    }
    if (byte === 0x25) return { ok: false, reason: 'the path must not contain an encoded % (%25)' };
    bytes.push(byte);
    index += 2;
  }
  let decoded: string;
  try {
    decoded = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return { ok: false, reason: 'the path is not valid UTF-8' };
  }
  if (/[\u0000-\u001f\u007f]/.test(decoded)) {
    return { ok: false, reason: 'the path must not contain control characters' };
  }
  const segments = decoded.split('/').slice(1);
  for (const [index, segment] of segments.entries()) {
    if (segment === '.' || segment === '..') {
      return { ok: false, reason: 'the path must not contain . or .. segments' };
    }
    if (segment === '' && index !== segments.length - 1) {
      return { ok: false, reason: 'the path must not contain empty segments (//)' };
    }
  }
  return { ok: true, url: encodeCanonically(decoded) + query };
}

const REFUSED_PATH = Symbol('gatehouse.refusedPath');

type MarkedRequest = IncomingMessage & { [REFUSED_PATH]?: string };

/**
 * Fastify's `rewriteUrl`: runs before routing, so the router, every hook and the proxy (which builds the upstream
 * URL from `request.url`) see the normalized URL. A refused path is only marked here (rewriteUrl cannot answer);
 * {@link pathRefusalOf} lets a hook answer 400 in the error shape. Its URL becomes one the router can read
 * (every `%` escaped), so that no framework answer in another shape comes first.
 */
export function rewriteToNormalizedUrl(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const normalized = normalizeRequestUrl(url);
  if (normalized.ok) return normalized.url;
  (request as MarkedRequest)[REFUSED_PATH] = normalized.reason;
  const queryAt = url.indexOf('?');
  const path = (queryAt === -1 ? url : url.slice(0, queryAt)).replace(/[^\x21-\x7e]|%/g, (character) =>
    encodeCanonically(character === '%' ? '%' : character),
  );
  return path.startsWith('/') ? path : `/${path}`;
}

/** Why the request's path was refused by {@link rewriteToNormalizedUrl}, if it was. */
export function pathRefusalOf(request: IncomingMessage): string | undefined {
  return (request as MarkedRequest)[REFUSED_PATH];
}

/**
 * Answers 400 `bad_request` to a request whose path {@link rewriteToNormalizedUrl} refused, before any route,
 * limit or upstream sees it. Registered after the security headers and CORS, so the answer carries them.
 */
export function registerPathRefusal(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', async (request, reply) => {
    const reason = pathRefusalOf(request.raw);
    if (reason === undefined) return;
    const response = toErrorResponse(
      new GatehouseError('bad_request', `Ambiguous or invalid request path: ${reason}`),
      request.id,
    );
    return reply.status(response.status).headers(response.headers).send(response.body);
  });
}
