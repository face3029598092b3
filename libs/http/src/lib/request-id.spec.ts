import type { IncomingMessage } from 'node:http';
import { isAcceptableRequestId, REQUEST_ID_HEADER, resolveRequestId } from './request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function requestWith(header?: string | string[]): IncomingMessage {
  const headers: IncomingMessage['headers'] = {};
  if (header !== undefined) headers[REQUEST_ID_HEADER] = header;
  return { headers } as IncomingMessage;
}

describe('resolveRequestId', () => {
  it('uses the x-request-id header name', () => {
    expect(REQUEST_ID_HEADER).toBe('x-request-id');
  });

  it.each([
    'gw-1a2b3c4d',
    '3f2c1b9e-8d7a-4c6b-9e5f-0a1b2c3d4e5f',
    'trace.span:01_abc-XYZ',
    'a'.repeat(8),
    'b'.repeat(128),
  ])('keeps the well-formed incoming id %p', (incoming) => {
    expect(resolveRequestId(requestWith(incoming))).toBe(incoming);
  });

  it.each([
    ['too short', 'abc'],
    ['oversized', 'c'.repeat(129)],
    ['containing a newline (log injection)', 'abcdefgh\nlevel=error fake'],
    ['containing spaces', 'abc def ghi'],
    ['containing a slash', 'abcd/efgh'],
    ['empty', ''],
  ])('replaces an id %s with a fresh UUID', (_label, incoming) => {
    const id = resolveRequestId(requestWith(incoming));
    expect(id).toMatch(UUID);
    expect(id).not.toBe(incoming);
  });

  it.each([
    ['a live API key', `gth_live_${'A'.repeat(43)}`],
    ['a test API key', `gth_test_${'b'.repeat(43)}`],
    ['a key in upper case', `GTH_LIVE_${'C'.repeat(43)}`],
    ['an id with a key inside', `trace-Gth_live_${'d'.repeat(30)}`],
    ['a JWT', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'],
    ['a JWT header alone', 'eyJhbGciOiJSUzI1NiJ9'],
    ['an unsigned JWT (empty signature)', 'aGVhZGVyMTI.cGF5bG9hZDEy.'],
    ['three base64url parts', 'abc-_123.def456.ghi789'],
  ])('replaces %s sent as the id with a fresh UUID (it would be logged and stored)', (_label, incoming) => {
    expect(isAcceptableRequestId(incoming)).toBe(false);
    const id = resolveRequestId(requestWith(incoming));
    expect(id).toMatch(UUID);
    expect(id).not.toBe(incoming);
  });

  it.each(['gth-build-0001', 'trace.span:01_abc-XYZ', 'v1.2-build', 'eyeball-123'])(
    'keeps the id %p, which is no credential',
    (incoming) => {
      expect(resolveRequestId(requestWith(incoming))).toBe(incoming);
    },
  );

  it('replaces a repeated header (array value) with a fresh UUID', () => {
    expect(resolveRequestId(requestWith(['aaaaaaaa1', 'bbbbbbbb2']))).toMatch(UUID);
  });

  it('generates a UUID when no header is sent, a different one per request', () => {
    const first = resolveRequestId(requestWith());
    const second = resolveRequestId(requestWith());
    expect(first).toMatch(UUID);
    expect(second).toMatch(UUID);
    expect(first).not.toBe(second);
  });

  it('returns the same generated id on repeated calls for one request', () => {
    const request = requestWith('bad id!');
    const first = resolveRequestId(request);
    expect(resolveRequestId(request)).toBe(first);
    expect(resolveRequestId(request)).toBe(first);
  });

  it('keeps the first resolved id even if the header changes afterwards', () => {
    const request = requestWith('incoming-id-0001');
    expect(resolveRequestId(request)).toBe('incoming-id-0001');
    request.headers[REQUEST_ID_HEADER] = 'another-id-0002';
    expect(resolveRequestId(request)).toBe('incoming-id-0001');
  });
});
