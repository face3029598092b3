import { bearerTokenFromRequest, bearerTokenOf } from './bearer-token';

describe('bearerTokenOf', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer   abc', 'abc'],
    ['Bearer\tabc', 'abc'],
    ['  Bearer abc  ', 'abc'],
    ['Bearer abc def', 'abc'],
    ['Basic abc', null],
    ['Bearerabc', null],
    ['Bearer', null],
    ['Bearer    ', null],
    ['', null],
  ])('reads %j as %j', (header, expected) => {
    expect(bearerTokenOf(header)).toBe(expected);
  });

  it('ignores a missing or repeated header', () => {
    expect(bearerTokenOf(undefined)).toBeNull();
    expect(bearerTokenOf(['Bearer a', 'Bearer b'])).toBeNull();
  });

  // passport-jwt's /(\S+)\s+(\S+)/ needs seconds for these; a linear parse finishes in milliseconds, so the test
  // would time out long before it could pass with the quadratic one.
  it('reads a 1 MB header without whitespace in one pass', () => {
    const header = 'A'.repeat(1024 * 1024);
    expect(bearerTokenOf(header)).toBeNull();
    expect(bearerTokenOf(`Bearer ${header}`)).toBe(header);
    expect(bearerTokenOf(`x ${header}`)).toBeNull();
  });

  it('is what the Gatehouse strategy extracts from a request', () => {
    expect(bearerTokenFromRequest({ headers: { authorization: 'Bearer t.o.k' } })).toBe('t.o.k');
    expect(bearerTokenFromRequest({ headers: {} })).toBeNull();
  });
});
