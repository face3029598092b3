import type { IncomingMessage } from 'node:http';
import { normalizeRequestUrl, pathRefusalOf, rewriteToNormalizedUrl } from './path-normalization';

const PREFIXES = [
  '/api/v1/auth/m2m/authenticate',
  '/api/v1/findings',
  '/api/v1/api-keys',
  '/api/v1/audit-events',
  '/api/v1/leaked-keys',
];

/** Every character of the path after `/api/v1/` percent-encoded, in lower or upper case hex. */
function encodeAll(path: string, upper: boolean): string {
  const rest = path.slice('/api/v1/'.length);
  const encoded = [...rest]
    .map((character) => {
      if (character === '/') return '/';
      const hex = character.charCodeAt(0).toString(16).padStart(2, '0');
      return `%${upper ? hex.toUpperCase() : hex}`;
    })
    .join('');
  return `/api/v1/${encoded}`;
}

describe('normalizeRequestUrl', () => {
  describe.each(PREFIXES)('%s', (prefix) => {
    const last = prefix.lastIndexOf('/') + 1;
    const oneEncoded = `${prefix.slice(0, last)}%${prefix.charCodeAt(last).toString(16)}${prefix.slice(last + 1)}`;

    it.each([
      ['itself', prefix],
      ['one character encoded', oneEncoded],
      ['every character encoded, lower-case hex', encodeAll(prefix, false)],
      ['every character encoded, upper-case hex', encodeAll(prefix, true)],
    ])('reads %s as the prefix', (_case, url) => {
      expect(normalizeRequestUrl(url)).toEqual({ ok: true, url: prefix });
      expect(normalizeRequestUrl(`${url}/x?a=%2F&b=..`)).toEqual({ ok: true, url: `${prefix}/x?a=%2F&b=..` });
    });

    it.each([
      [
        'a double-encoded character',
        `${prefix.slice(0, last)}%25${prefix.charCodeAt(last).toString(16)}${prefix.slice(last + 1)}`,
      ],
      ['an encoded slash', `${prefix}%2Fx`],
      ['an encoded slash, lower case', `${prefix}%2fx`],
      ['an encoded backslash', `${prefix}%5Cx`],
      ['a literal backslash', `${prefix}\\x`],
      ['a dot-dot segment', `${prefix}/../findings`],
      ['an encoded dot-dot segment', `${prefix}/%2e%2e/findings`],
      ['a mixed dot-dot segment', `${prefix}/.%2E/findings`],
      ['a dot segment', `${prefix}/./x`],
      ['an encoded dot segment', `${prefix}/%2E`],
      ['NUL', `${prefix}%00`],
      ['a control character', `${prefix}/%0a`],
      ['an incomplete escape', `${prefix}%6`],
      ['a non-hex escape', `${prefix}%zz`],
      ['invalid UTF-8', `${prefix}/%C3%28`],
      ['a lone continuation byte', `${prefix}/%80`],
      ['an empty segment', prefix.replace('/v1/', '/v1//')],
      ['a fragment', `${prefix}#x`],
    ])('refuses %s', (_case, url) => {
      expect(normalizeRequestUrl(url).ok).toBe(false);
    });
  });

  it('re-encodes what a decoded path must not carry as is, in upper-case hex', () => {
    expect(normalizeRequestUrl('/api/v1/findings/a%3fb%23c%20d')).toEqual({
      ok: true,
      url: '/api/v1/findings/a%3Fb%23c%20d',
    });
    expect(normalizeRequestUrl('/api/v1/findings/caf%c3%a9')).toEqual({
      ok: true,
      url: '/api/v1/findings/caf%C3%A9',
    });
  });

  it('is idempotent: a normalized URL normalizes to itself', () => {
    for (const url of ['/api/v1/findings/a%3Fb', '/api/v1/findings/caf%C3%A9', '/api/v1/%66indings?x=%25']) {
      const once = normalizeRequestUrl(url);
      expect(once.ok).toBe(true);
      if (once.ok) expect(normalizeRequestUrl(once.url)).toEqual(once);
    }
  });

  it('keeps case, a trailing slash, matrix parameters and the query string as they are', () => {
    expect(normalizeRequestUrl('/API/v1/Findings')).toEqual({ ok: true, url: '/API/v1/Findings' });
    expect(normalizeRequestUrl('/api/v1/findings/')).toEqual({ ok: true, url: '/api/v1/findings/' });
    expect(normalizeRequestUrl('/api/v1/findings;x=1')).toEqual({ ok: true, url: '/api/v1/findings;x=1' });
    expect(normalizeRequestUrl('/api/v1/findings?q=%zz&r=%00')).toEqual({
      ok: true,
      url: '/api/v1/findings?q=%zz&r=%00',
    });
    expect(normalizeRequestUrl('/')).toEqual({ ok: true, url: '/' });
  });

  it('refuses a request target that is not a path', () => {
    expect(normalizeRequestUrl('*').ok).toBe(false);
    expect(normalizeRequestUrl('http://example.com/api/v1/findings').ok).toBe(false);
  });
});

describe('rewriteToNormalizedUrl', () => {
  const request = (url: string) => ({ url }) as IncomingMessage;

  it('returns the normalized URL and marks nothing', () => {
    const raw = request('/api/v1/%66indings?limit=1');
    expect(rewriteToNormalizedUrl(raw)).toBe('/api/v1/findings?limit=1');
    expect(pathRefusalOf(raw)).toBeUndefined();
  });

  it('marks a refused path with the reason, and gives the router a URL it can read', () => {
    const raw = request('/api/v1/findings%zz/%C3%28?token=x');
    const url = rewriteToNormalizedUrl(raw);
    expect(pathRefusalOf(raw)).toBe('the path has an invalid percent-encoding');
    expect(url).toBe('/api/v1/findings%25zz/%25C3%2528');
    expect(() => decodeURIComponent(url)).not.toThrow();
  });
});
