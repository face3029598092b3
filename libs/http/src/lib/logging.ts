import type { IncomingMessage } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import type { DynamicModule } from '@nestjs/common';
import type { LogLevel } from '@gatehouse/config';
import { resolveRequestId } from './request-id';

const QUIET_PATHS = ['/health/', '/metrics'];

/**
 * JSON logs on stdout, one line per request, carrying the request id. Credentials are cut at the serializer,
 * not by redaction afterwards: the request serializer never reads headers at all.
 */
export function createLoggerModule(service: string, level: LogLevel): DynamicModule {
  return LoggerModule.forRoot({
    pinoHttp: {
      level,
      base: { service },
      messageKey: 'message',
      formatters: { level: (label: string) => ({ level: label }) },
      genReqId: (req: IncomingMessage) => resolveRequestId(req),
      autoLogging: {
        ignore: (req: IncomingMessage) => QUIET_PATHS.some((path) => (req.url ?? '').startsWith(path)),
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
}
