import { PassThrough } from 'node:stream';
import { GatehouseError } from '@gatehouse/contracts';
import { bodyLimitLookup, receiveWhole } from './body-limit';

const DEFAULT = 1024 * 1024;
const UPLOAD = 10 * 1024 * 1024;

describe('bodyLimitLookup (the limit of a request, by method and path)', () => {
  const limitOf = bodyLimitLookup({
    defaultBytes: DEFAULT,
    routes: [{ method: 'POST', path: '/api/v1/findings', limitBytes: UPLOAD }],
  });

  it('gives a listed route its own limit, whatever its query string', () => {
    expect(limitOf('POST', '/api/v1/findings')).toBe(UPLOAD);
    expect(limitOf('POST', '/api/v1/findings?repository=acme%2Fapi&ref=main')).toBe(UPLOAD);
    expect(limitOf('POST', '/api/v1/findings?')).toBe(UPLOAD);
  });

  it.each([
    ['another method', 'PUT', '/api/v1/findings'],
    ['a path below it', 'POST', '/api/v1/findings/import'],
    ['a longer name', 'POST', '/api/v1/findings-export'],
    ['a trailing slash', 'POST', '/api/v1/findings/'],
    ['another case', 'POST', '/API/v1/findings'],
    ['a spelling that is not the normalized one', 'POST', '/api/v1/%66indings'],
    ['the path only in the query', 'POST', '/api/v1/api-keys?/api/v1/findings'],
    ['another route', 'POST', '/api/v1/api-keys'],
  ])('gives %s the default limit', (_case, method, url) => {
    expect(limitOf(method, url)).toBe(DEFAULT);
  });

  it('gives every route the default limit without a table', () => {
    expect(bodyLimitLookup({ defaultBytes: DEFAULT })('POST', '/api/v1/findings')).toBe(DEFAULT);
  });

  it.each([
    ['a lower-case method', { method: 'post', path: '/api/v1/findings', limitBytes: UPLOAD }, /upper case/],
    ['a query', { method: 'POST', path: '/api/v1/findings?x=1', limitBytes: UPLOAD }, /normalized path/],
    ['an encoded letter', { method: 'POST', path: '/api/v1/%66indings', limitBytes: UPLOAD }, /normalized/],
    ['a dot segment', { method: 'POST', path: '/api/v1/./findings', limitBytes: UPLOAD }, /normalized/],
    ['no leading slash', { method: 'POST', path: 'api/v1/findings', limitBytes: UPLOAD }, /normalized/],
    ['a limit of 0', { method: 'POST', path: '/api/v1/findings', limitBytes: 0 }, /positive integer/],
    ['a fractional limit', { method: 'POST', path: '/api/v1/findings', limitBytes: 1.5 }, /positive integer/],
  ])('refuses, at start, an entry with %s', (_case, route, message) => {
    expect(() => bodyLimitLookup({ defaultBytes: DEFAULT, routes: [route] })).toThrow(message);
  });

  it('refuses a route listed twice, and a default limit that is no limit', () => {
    const route = { method: 'POST', path: '/api/v1/findings', limitBytes: UPLOAD };
    expect(() => bodyLimitLookup({ defaultBytes: DEFAULT, routes: [route, route] })).toThrow(
      'Body limit of POST /api/v1/findings: listed twice',
    );
    expect(() => bodyLimitLookup({ defaultBytes: Number.NaN })).toThrow(/default body limit/);
  });
});

describe('receiveWhole (a body read to its end within a limit)', () => {
  it('gives the bytes as they came, in order', async () => {
    const body = new PassThrough();
    const received = receiveWhole(body, 10);
    body.write(Buffer.from([0x1f, 0x8b, 0x08]));
    body.end(Buffer.from('abcdefg'));
    expect(Buffer.concat(await received)).toEqual(Buffer.from([0x1f, 0x8b, 0x08, ...Buffer.from('abcdefg')]));
  });

  it('takes a body of exactly the limit, and an empty one', async () => {
    const exact = new PassThrough();
    const received = receiveWhole(exact, 4);
    exact.end(Buffer.from('1234'));
    expect(Buffer.concat(await received).toString()).toBe('1234');

    const empty = new PassThrough();
    const nothing = receiveWhole(empty, 4);
    empty.end();
    expect(await nothing).toEqual([]);
  });

  it('fails with 413 naming the limit as soon as the limit is crossed, without waiting for the end', async () => {
    const body = new PassThrough();
    const received = receiveWhole(body, 4);
    body.write(Buffer.from('123'));
    body.write(Buffer.from('45'));
    // The body never ends: the refusal does not wait for it.
    await expect(received).rejects.toEqual(
      new GatehouseError('payload_too_large', 'Request body is larger than 4 bytes'),
    );
    expect(body.listenerCount('data')).toBe(0);
  });

  it('fails with 400 when the client goes away mid-body', async () => {
    const body = new PassThrough();
    const received = receiveWhole(body, 100);
    body.write(Buffer.from('12'));
    body.destroy();
    await expect(received).rejects.toMatchObject({ code: 'bad_request' });
  });
});
