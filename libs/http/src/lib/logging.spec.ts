import type { IncomingMessage } from 'node:http';
import { createPrettyFormatter, isQuiet, prettyMessage, QuietStartupLogger } from './logging';

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

describe('pretty log lines (LOG_FORMAT=pretty)', () => {
  const format = createPrettyFormatter();
  // Colours depend on the terminal running the tests; the words do not.
  const plain = (line: string) => line.replace(/\x1b\[[0-9;]*m/g, '');

  it('writes one line per entry: level, service and context, message, the other fields inline', () => {
    const line = plain(
      format({
        level: 'info',
        time: Date.UTC(2026, 0, 2, 3, 4, 5),
        service: 'auth-service',
        context: 'SigningKeys',
        message: 'Signing with kid abc',
        kid: 'abc',
      }),
    );
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd().split('\n')).toHaveLength(1);
    expect(line).toContain('INFO');
    expect(line).toContain('auth-service [SigningKeys]: Signing with kid abc');
    expect(line).toContain('"kid":"abc"');
  });

  it('reads the JSON line pino writes', () => {
    const json = JSON.stringify({ level: 'warn', time: 0, service: 'api-gateway', message: 'slow upstream' });
    expect(plain(format(json))).toContain('WARN');
    expect(plain(format(json))).toContain('api-gateway: slow upstream');
  });

  it('shows a request as method, URL, status, duration and request id', () => {
    expect(
      prettyMessage(
        {
          service: 'api-gateway',
          message: 'request completed',
          req: { id: 'r-1', method: 'POST', url: '/api/v1/findings' },
          res: { statusCode: 201 },
          responseTime: 12,
        },
        'message',
      ),
    ).toBe('api-gateway: POST /api/v1/findings → 201 in 12 ms (r-1)');
    expect(
      prettyMessage(
        { service: 'admin-api', message: 'key revoked', req: { id: 'r-2', method: 'POST', url: '/x' } },
        'message',
      ),
    ).toBe('admin-api: key revoked (POST /x, r-2)');
  });
});

describe('QuietStartupLogger', () => {
  const target = () => ({
    log: jest.fn(),
    error: jest.fn(),
    warn: jest.fn(),
    debug: jest.fn(),
    verbose: jest.fn(),
    fatal: jest.fn(),
  });

  it.each(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication'])(
    "moves Nest's %s lines to debug",
    (context) => {
      const logger = target();
      new QuietStartupLogger(logger).log('Mapped {/health/live, GET} route', context);
      expect(logger.log).not.toHaveBeenCalled();
      expect(logger.debug).toHaveBeenCalledWith('Mapped {/health/live, GET} route', context);
    },
  );

  it("keeps the apps' own lines at their level", () => {
    const logger = target();
    const quiet = new QuietStartupLogger(logger);
    quiet.log('Signing with kid abc', 'SigningKeys');
    quiet.warn('development signing key', 'SigningKeys');
    quiet.error('boom', 'stack', 'ScanWorker');
    expect(logger.log).toHaveBeenCalledWith('Signing with kid abc', 'SigningKeys');
    expect(logger.warn).toHaveBeenCalledWith('development signing key', 'SigningKeys');
    expect(logger.error).toHaveBeenCalledWith('boom', 'stack', 'ScanWorker');
  });

  it("drops Nest's own line about a failed listen (reported once by createHttpApp), and no other error", () => {
    const logger = target();
    const quiet = new QuietStartupLogger(logger);
    quiet.error('Error: listen EADDRINUSE: address already in use 127.0.0.1:8080', 'NestApplication');
    expect(logger.error).not.toHaveBeenCalled();
    quiet.error('Error: something else', 'NestApplication');
    expect(logger.error).toHaveBeenCalledTimes(1);
  });
});
