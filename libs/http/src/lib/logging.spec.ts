import type { IncomingMessage } from 'node:http';
import { isQuiet } from './logging';

const requestTo = (url: string, originalUrl?: string) =>
  ({ url, originalUrl, headers: {} }) as unknown as IncomingMessage & { originalUrl?: string };

describe('isQuiet', () => {
  it.each(['/health/live', '/health/ready', '/metrics'])('does not log %s', (path) => {
    expect(isQuiet(requestTo(path))).toBe(true);
  });

  it('reads the whole path where the middleware mount has cut `url` down to `/`', () => {
    expect(isQuiet(requestTo('/', '/metrics'))).toBe(true);
    expect(isQuiet(requestTo('/', '/health/live'))).toBe(true);
    expect(isQuiet(requestTo('/', '/api/v1/findings'))).toBe(false);
  });

  it.each(['/api/v1/auth/m2m/authenticate', '/api/v1/findings', '/openapi.json', '/healthz'])(
    'logs %s',
    (path) => {
      expect(isQuiet(requestTo(path))).toBe(false);
    },
  );
});
