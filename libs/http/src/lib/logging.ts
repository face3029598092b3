import type { IncomingMessage } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import type { DynamicModule } from '@nestjs/common';
import type { LogLevel } from '@gatehouse/config';
import { METRICS_PATH, SERVICE_NAME } from './metrics';
import { resolveRequestId } from './request-id';

const QUIET_PATHS = ['/health/', METRICS_PATH];

/**
 * Probes and scrapes are not logged. The logger runs as Nest middleware, which Fastify mounts with a path: there
 * `req.url` is the rest of the path after the mount point (`/`), and only `originalUrl` has the whole of it.
 */
export function isQuiet(req: IncomingMessage & { originalUrl?: string }): boolean {
  const url = req.originalUrl ?? req.url ?? '';
  return QUIET_PATHS.some((path) => url.startsWith(path));
}

/**
 * JSON logs on stdout, one line per request, carrying the request id. Credentials are cut at the serializer,
 * not by redaction afterwards: the request serializer never reads headers at all. The module (global) also provides
 * the service's name as `SERVICE_NAME`, which labels its metrics.
 */
export function createLoggerModule(service: string, level: LogLevel): DynamicModule {
  const logger = LoggerModule.forRoot({
    pinoHttp: {
      level,
      base: { service },
      messageKey: 'message',
      formatters: { level: (label: string) => ({ level: label }) },
      genReqId: (req: IncomingMessage) => resolveRequestId(req),
      autoLogging: {
        ignore: (req: IncomingMessage) => isQuiet(req),
      },
      serializers: {
        req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url,
          remoteAddress: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      redact: {
        paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'api_key'],
        censor: '[redacted]',
      },
    },
  });
  return {
    ...logger,
    providers: [...(logger.providers ?? []), { provide: SERVICE_NAME, useValue: service }],
    exports: [...(logger.exports ?? []), SERVICE_NAME],
  };
}
