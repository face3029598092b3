import type { IncomingHttpHeaders } from 'node:http';
import { ERROR_STATUS, type ErrorCode } from '@gatehouse/contracts';

/** The protection space of every challenge: one for the whole suite, whichever service answers. */
export const AUTH_REALM = 'gatehouse';

/**
 * The HTTP authentication schemes of the challenges, by the credential a route takes:
 * - `Bearer` (RFC 6750): an access token, or an API key sent as `Authorization: Bearer` or `X-API-Key` to the API;
 * - `ApiKey`: an API key in `X-API-Key` to `POST /api/v1/auth/m2m/authenticate`. Not a registered scheme (none
 *   exists for keys in their own header); its `header` parameter names where the key goes;
 * - `Signature`: a leaked-key report signed by a secret scanner (GITHUB-PUBLIC-KEY-SIGNATURE), not a credential
 *   of the caller's own.
 */
export type ChallengeScheme = 'Bearer' | 'ApiKey' | 'Signature';

/** Codes that say nothing was presented: the challenge carries no `error` (RFC 6750 §3.1). */
const MISSING: ReadonlySet<ErrorCode> = new Set(['missing_token', 'missing_api_key', 'unauthorized']);

const API_KEY_CODES: ReadonlySet<ErrorCode> = new Set([
  'missing_api_key',
  'invalid_api_key',
  'api_key_revoked',
  'key_expired',
  'client_id_mismatch',
]);

/** What the request presented, where a code alone does not tell the scheme (`api_key_disabled`). */
export interface PresentedCredentials {
  /** An API key in `X-API-Key`: a refused key is challenged as a key, not as a token. */
  apiKey?: boolean;
}

/** Whether a request carries an `X-API-Key` header (any value: what it held was refused either way). */
export function presentedCredentials(headers: IncomingHttpHeaders | undefined): PresentedCredentials {
  const value = headers?.['x-api-key'];
  return { apiKey: Array.isArray(value) ? value.length > 0 : (value ?? '').length > 0 };
}

/** The scheme a 401 of this code challenges with. */
export function challengeSchemeOf(code: ErrorCode, presented: PresentedCredentials = {}): ChallengeScheme {
  if (code === 'invalid_signature') return 'Signature';
  if (API_KEY_CODES.has(code)) return 'ApiKey';
  // A disabled key refused at authenticate (or to the gateway's exchange) versus a token whose key is disabled.
  if (code === 'api_key_disabled' && presented.apiKey) return 'ApiKey';
  return 'Bearer';
}

/**
 * The `WWW-Authenticate` value of a 401 with this code (undefined for any other status): the scheme, the realm,
 * and an `error` when a credential was presented and refused (RFC 6750 §3: `invalid_token`; `invalid_key` and
 * `invalid_signature` for the other two schemes, by analogy). No `error_description`: the body's `message` has it,
 * and it may quote what the request sent.
 */
export function wwwAuthenticate(code: ErrorCode, presented: PresentedCredentials = {}): string | undefined {
  if (ERROR_STATUS[code] !== 401) return undefined;
  const scheme = challengeSchemeOf(code, presented);
  const params = [`realm="${AUTH_REALM}"`];
  if (scheme === 'ApiKey') params.push('header="X-API-Key"');
  if (!MISSING.has(code)) {
    const error = { Bearer: 'invalid_token', ApiKey: 'invalid_key', Signature: 'invalid_signature' }[scheme];
    params.push(`error="${error}"`);
  }
  return `${scheme} ${params.join(', ')}`;
}

/**
 * What the document says of the `WWW-Authenticate` header of a 401 that may carry these codes: the challenges
 * those codes give, as written by {@link wwwAuthenticate}.
 */
export function describeChallenges(codes: readonly ErrorCode[]): string {
  const examples = new Set<string>();
  for (const code of codes) {
    if (ERROR_STATUS[code] !== 401) continue;
    examples.add(wwwAuthenticate(code) as string);
    if (code === 'api_key_disabled') examples.add(wwwAuthenticate(code, { apiKey: true }) as string);
  }
  return (
    'The challenge (RFC 9110 §11.6.1): the scheme of the credential the route takes (Bearer per RFC 6750; ApiKey ' +
    'for the X-API-Key header; Signature for signed reports), realm "gatehouse", and `error` when a credential ' +
    `was presented and refused. Here: ${[...examples].map((example) => `\`${example}\``).join('; ')}`
  );
}
