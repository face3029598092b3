import type { IncomingHttpHeaders } from 'node:http';
import { looksLikeApiKey } from '@gatehouse/crypto';

/**
 * What a request presents to identify its caller, read from headers only (no body, no lookup):
 * - `api_key`: a Gatehouse key in `X-API-Key`, or in `Authorization: Bearer` (told apart from a JWT by its prefix);
 * - `bearer`: any other bearer credential, a Gatehouse access token or a dashboard user's token;
 * - `misplaced`: a key or token where it does not belong, refused with a message naming the right header;
 * - `none`: nothing at all.
 */
export type Credentials =
  | { kind: 'api_key'; apiKey: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'misplaced'; message: string }
  | { kind: 'none' };

const API_KEY_HEADER = 'x-api-key';

/** Header names people try for API keys; a Gatehouse key under one of them gets told the right one. */
const MISTAKEN_KEY_HEADERS = [
  'api-key',
  'apikey',
  'x-apikey',
  'x-api-token',
  'x-auth-token',
  'x-access-token',
];

const KEY_WHERE = "Send the API key in the X-API-Key header or as 'Authorization: Bearer <key>'";

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Credentials for the API routes (findings, keys, audit): an access token or, directly, an API key. */
export function apiCredentials(headers: IncomingHttpHeaders): Credentials {
  const apiKey = single(headers[API_KEY_HEADER])?.trim();
  const authorization = single(headers.authorization)?.trim();
  if (apiKey) {
    if (!looksLikeApiKey(apiKey)) {
      return {
        kind: 'misplaced',
        message:
          "X-API-Key carries Gatehouse API keys (gth_…); send access tokens as 'Authorization: Bearer <token>'",
      };
    }
    return { kind: 'api_key', apiKey };
  }
  if (authorization) {
    const space = authorization.indexOf(' ');
    const scheme = space === -1 ? authorization : authorization.slice(0, space);
    const value = space === -1 ? '' : authorization.slice(space + 1).trim();
    if (scheme.toLowerCase() === 'bearer' && value) {
      return looksLikeApiKey(value) ? { kind: 'api_key', apiKey: value } : { kind: 'bearer', token: value };
    }
    if (looksLikeApiKey(value) || looksLikeApiKey(authorization))
      return { kind: 'misplaced', message: KEY_WHERE };
    return { kind: 'misplaced', message: "Send the access token as 'Authorization: Bearer <token>'" };
  }
  if (MISTAKEN_KEY_HEADERS.some((name) => headers[name] !== undefined)) {
    return { kind: 'misplaced', message: KEY_WHERE };
  }
  return { kind: 'none' };
}

/**
 * The key presented to `POST /api/v1/auth/m2m/authenticate`, which takes it in `X-API-Key` only: the other
 * places a key might be sent are refused by name rather than answered with a bare "missing".
 */
export function authenticateCredentials(headers: IncomingHttpHeaders): Credentials {
  const apiKey = single(headers[API_KEY_HEADER])?.trim();
  if (apiKey) return { kind: 'api_key', apiKey };
  const authorization = single(headers.authorization)?.trim() ?? '';
  const mistaken = MISTAKEN_KEY_HEADERS.some((name) => headers[name] !== undefined);
  if (mistaken || authorization.includes('gth_')) {
    return {
      kind: 'misplaced',
      message: 'Send the API key in the X-API-Key header to authenticate; Authorization is for access tokens',
    };
  }
  return { kind: 'none' };
}
