import type { IncomingMessage } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { stdSerializers } from 'pino';
import type { DynamicModule } from '@nestjs/common';
import type { LogLevel } from '@gatehouse/config';
import { redactSecrets, redactUrl } from './log-redaction';
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

/** A logged error without the keys and JWTs its message or stack may quote (a URL, a value that failed SQL). */
export function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const serialized = stdSerializers.err(error) as unknown as Record<string, unknown>;
  for (const field of ['message', 'stack']) {
    const text = serialized[field];
    if (typeof text === 'string') serialized[field] = redactSecrets(text);
  }
  return serialized;
}

/** The request as logged: never its headers, and its URL without credentials (see {@link redactUrl}). */
export function serializeRequest(req: { id: string; method: string; url: string; remoteAddress?: string }): {
  id: string;
  method: string;
  url: string;
  remoteAddress?: string;
} {
  return { id: req.id, method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.remoteAddress };
}

/**
 * JSON logs on stdout, one line per request, carrying the request id. Credentials are cut at the serializer,
 * not by redaction afterwards: the request serializer never reads headers at all, and writes the URL without
 * credential query parameters, keys or JWTs; error messages and stacks, and every message string, lose keys and
 * JWTs too. The module (global) also provides the service's name as `SERVICE_NAME`, which labels its metrics.
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
        req: serializeRequest,
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: serializeError,
      },
      hooks: {
        logMethod(args: unknown[], method: (...args: unknown[]) => void) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg)),
          );
        },
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
