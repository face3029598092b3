import { ERROR_STATUS, type ErrorCode } from '@gatehouse/contracts';
import { describeChallenges, presentedCredentials, wwwAuthenticate } from './www-authenticate';

/** RFC 9110 §11.3 challenge syntax: auth-scheme, then auth-params `name="quoted"` separated by commas. */
const CHALLENGE = /^[A-Za-z][A-Za-z0-9-]* [a-z_]+="[^"\\]*"(, [a-z_]+="[^"\\]*")*$/;

describe('wwwAuthenticate', () => {
  const unauthorizedCodes = (Object.keys(ERROR_STATUS) as ErrorCode[]).filter(
    (code) => ERROR_STATUS[code] === 401,
  );

  it('gives every 401 code a well-formed challenge in the gatehouse realm', () => {
    for (const code of unauthorizedCodes) {
      const challenge = wwwAuthenticate(code);
      expect(challenge).toMatch(CHALLENGE);
      expect(challenge).toContain('realm="gatehouse"');
    }
  });

  it('gives no challenge to any other status', () => {
    for (const code of Object.keys(ERROR_STATUS) as ErrorCode[]) {
      if (ERROR_STATUS[code] !== 401) expect(wwwAuthenticate(code)).toBeUndefined();
    }
  });

  it('follows RFC 6750 for tokens: no error code when none was sent, invalid_token when one was refused', () => {
    expect(wwwAuthenticate('missing_token')).toBe('Bearer realm="gatehouse"');
    for (const code of ['invalid_token', 'token_expired', 'token_revoked'] as const) {
      expect(wwwAuthenticate(code)).toBe('Bearer realm="gatehouse", error="invalid_token"');
    }
  });

  it('challenges API keys with the ApiKey scheme naming the header to send the key in', () => {
    expect(wwwAuthenticate('missing_api_key')).toBe('ApiKey realm="gatehouse", header="X-API-Key"');
    for (const code of ['invalid_api_key', 'api_key_revoked', 'key_expired', 'client_id_mismatch'] as const) {
      expect(wwwAuthenticate(code)).toBe('ApiKey realm="gatehouse", header="X-API-Key", error="invalid_key"');
    }
  });

  it('challenges a disabled key by what was presented: the key itself, or a token issued from it', () => {
    expect(wwwAuthenticate('api_key_disabled', { apiKey: true })).toBe(
      'ApiKey realm="gatehouse", header="X-API-Key", error="invalid_key"',
    );
    expect(wwwAuthenticate('api_key_disabled')).toBe('Bearer realm="gatehouse", error="invalid_token"');
  });

  it('challenges an unsigned or badly signed leaked-key report with the Signature scheme', () => {
    expect(wwwAuthenticate('invalid_signature')).toBe(
      'Signature realm="gatehouse", error="invalid_signature"',
    );
  });
});

describe('presentedCredentials', () => {
  it('sees an API key only in a non-empty X-API-Key header', () => {
    expect(presentedCredentials({ 'x-api-key': 'gth_live_x' })).toEqual({ apiKey: true });
    expect(presentedCredentials({ 'x-api-key': '' })).toEqual({ apiKey: false });
    expect(presentedCredentials({ authorization: 'Bearer x' })).toEqual({ apiKey: false });
    expect(presentedCredentials(undefined)).toEqual({ apiKey: false });
  });
});

describe('describeChallenges', () => {
  it('lists, once each, the challenges the given codes produce and ignores other statuses', () => {
    const description = describeChallenges(['missing_token', 'invalid_token', 'token_expired', 'forbidden']);
    expect(description).toContain(
      '`Bearer realm="gatehouse"`; `Bearer realm="gatehouse", error="invalid_token"`',
    );
    expect(description.match(/error="invalid_token"/g)).toHaveLength(1);
  });
});
