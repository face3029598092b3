import type { IncomingMessage } from 'node:http';
import Fastify from 'fastify';
import {
  createAppLogger,
  createPrettyFormatter,
  isQuiet,
  prettyMessage,
  QuietStartupLogger,
  registerRequestLogging,
} from './logging';

const requestTo = (url: string) => ({ url, headers: {} }) as unknown as IncomingMessage;

describe('isQuiet', () => {
  it.each(['/health/live', '/health/ready', '/metrics'])('does not log %s', (path) => {
    expect(isQuiet(requestTo(path))).toBe(true);
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

describe('registerRequestLogging', () => {
  const KEY = `gth_live_${'a'.repeat(49)}`;

  async function served(level: 'info' | 'warn', send: (app: ReturnType<typeof Fastify>) => Promise<unknown>) {
    const lines: Record<string, unknown>[] = [];
    const logger = createAppLogger('test-service', level, {
      write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
    });
    const app = Fastify({ genReqId: () => 'req-1' });
    registerRequestLogging(app, logger);
    app.get('/ok', async () => ({ ok: true }));
    app.get('/health/live', async () => ({ ok: true }));
    app.get('/broken', async (_request, reply) => {
      (reply.raw as { err?: unknown }).err = new Error(`database said no to ${KEY}`);
      return reply.status(500).send({ error: 'internal_error' });
    });
    await send(app);
    await app.close();
    return lines;
  }

  it('writes one line per answered request: id, method, URL without credentials, status, time', async () => {
    const lines = await served('info', (app) => app.inject({ method: 'GET', url: `/ok?api_key=${KEY}` }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      service: 'test-service',
      message: 'request completed',
      req: { id: 'req-1', method: 'GET' },
      res: { statusCode: 200 },
    });
    expect(typeof lines[0].responseTime).toBe('number');
    expect(JSON.stringify(lines[0])).not.toContain(KEY);
  });

  it('does not log probes, nor successful requests above info', async () => {
    expect(await served('info', (app) => app.inject({ method: 'GET', url: '/health/live' }))).toEqual([]);
    expect(await served('warn', (app) => app.inject({ method: 'GET', url: '/ok' }))).toEqual([]);
  });

  it('logs an unexpected error at error level, with the request, whatever the level, without keys', async () => {
    const lines = await served('warn', (app) => app.inject({ method: 'GET', url: '/broken' }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'error',
      message: 'request errored',
      req: { id: 'req-1', url: '/broken' },
      res: { statusCode: 500 },
      err: { type: 'Error' },
    });
    expect(JSON.stringify(lines[0])).not.toContain(KEY);
  });
});
