import { corsOptions, isExactOrigin, parseOriginList } from './cors';

describe('parseOriginList', () => {
  it('splits on commas, trims, and drops empty entries', () => {
    expect(parseOriginList('')).toEqual([]);
    expect(parseOriginList(' , ')).toEqual([]);
    expect(parseOriginList('https://a.example.com, http://localhost:3000,')).toEqual([
      'https://a.example.com',
      'http://localhost:3000',
    ]);
  });
});

describe('isExactOrigin', () => {
  it.each([
    'https://dashboard.example.com',
    'http://localhost:4200',
    'https://10.0.0.1:8443',
    'http://[::1]:3000',
  ])('accepts %s', (origin) => expect(isExactOrigin(origin)).toBe(true));

  it.each([
    '',
    '*',
    'null',
    'dashboard.example.com',
    'https://dashboard.example.com/',
    'https://dashboard.example.com/app',
    'https://DASHBOARD.example.com',
    'http://localhost:80',
    'https://*.example.com',
    'wss://dashboard.example.com',
    'file:///etc/passwd',
  ])('refuses %j', (value) => expect(isExactOrigin(value)).toBe(false));
});

describe('corsOptions', () => {
  it('allows the configured origins only, without credentials', () => {
    const options = corsOptions(['https://dashboard.example.com']);
    expect(options.origin).toEqual(['https://dashboard.example.com']);
    expect(options.credentials).toBe(false);
  });
});
