import type { IncomingMessage } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { stdSerializers, type DestinationStream } from 'pino';
import { prettyFactory } from 'pino-pretty';
import type { DynamicModule, LoggerService } from '@nestjs/common';
import type { HttpServiceConfig, LogLevel } from '@gatehouse/config';
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

/** What an app's configuration says about its logs (LOG_LEVEL, LOG_FORMAT). */
export type LoggingSettings = Pick<HttpServiceConfig, 'LOG_LEVEL' | 'LOG_FORMAT'>;

type LogEntry = Record<string, unknown> & {
  service?: string;
  context?: string;
  req?: { id?: string; method?: string; url?: string };
  res?: { statusCode?: number };
  responseTime?: number;
};

/** `service [context]: message`, a request line as `METHOD url → status in N ms (request id)`. */
export function prettyMessage(entry: LogEntry, messageKey: string): string {
  const where = `${entry.service ?? 'gatehouse'}${entry.context ? ` [${entry.context}]` : ''}`;
  const raw = entry[messageKey];
  const message = typeof raw === 'string' ? raw : JSON.stringify(raw ?? '');
  const { req, res } = entry;
  if (req && res) {
    const took = typeof entry.responseTime === 'number' ? ` in ${entry.responseTime} ms` : '';
    return `${where}: ${req.method} ${req.url} → ${res.statusCode}${took} (${req.id})`;
  }
  return req ? `${where}: ${message} (${req.method} ${req.url}, ${req.id})` : `${where}: ${message}`;
}

/**
 * LOG_FORMAT=pretty: each JSON entry as one readable line (local time, level, `service: message`, other fields
 * inline; an error's stack below it). Colours follow pino-pretty's detection (a terminal, NO_COLOR, FORCE_COLOR).
 */
export function createPrettyFormatter(): (entry: string | object) => string {
  return prettyFactory({
    messageKey: 'message',
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,context,req,res,responseTime',
    singleLine: true,
    messageFormat: (entry, messageKey) => prettyMessage(entry, messageKey),
  });
}

/** A pino destination writing each entry formatted for people, synchronously like pino's own stdout. */
function prettyStdout(): DestinationStream {
  const format = createPrettyFormatter();
  return { write: (line: string) => void process.stdout.write(format(line)) };
}

/** Nest's own start-up chatter (modules loaded, every route mapped): about 20 lines per app at info. */
const NEST_STARTUP_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/**
 * The app's logger as Nest uses it, with Nest's start-up chatter moved to debug (LOG_LEVEL=debug shows it), and
 * without Nest's own line about a failed listen: createHttpApp reports that failure itself, once.
 */
export class QuietStartupLogger implements LoggerService {
  constructor(private readonly logger: LoggerService) {}

  log(message: unknown, ...rest: unknown[]): void {
    if (NEST_STARTUP_CONTEXTS.has(String(rest.at(-1)))) this.logger.debug?.(message, ...rest);
    else this.logger.log(message, ...rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    const failedListen = rest.at(-1) === 'NestApplication' && String(message).startsWith('Error: listen ');
    if (!failedListen) this.logger.error(message, ...rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.logger.warn(message, ...rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.logger.debug?.(message, ...rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.logger.verbose?.(message, ...rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    (this.logger.fatal ?? this.logger.error).call(this.logger, message, ...rest);
  }
}

/**
 * Logs on stdout, one entry per request, carrying the request id: JSON lines (LOG_FORMAT=json, the default), or
 * the same entries as readable lines (LOG_FORMAT=pretty). A bare level means JSON. Credentials are cut at the
 * serializer, not by redaction afterwards: the request serializer never reads headers at all, and writes the URL
 * without credential query parameters, keys or JWTs; error messages and stacks, and every message string, lose
 * keys and JWTs too. The module (global) also provides the service's name as `SERVICE_NAME`, which labels its
 * metrics.
 */
export function createLoggerModule(service: string, settings: LoggingSettings | LogLevel): DynamicModule {
  const { LOG_LEVEL: level, LOG_FORMAT: format } =
    typeof settings === 'string' ? { LOG_LEVEL: settings, LOG_FORMAT: 'json' as const } : settings;
  const options = {
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
  };
  const logger = LoggerModule.forRoot({
    pinoHttp: format === 'pretty' ? [options, prettyStdout()] : options,
  });
  return {
    ...logger,
    providers: [...(logger.providers ?? []), { provide: SERVICE_NAME, useValue: service }],
    exports: [...(logger.exports ?? []), SERVICE_NAME],
  };
}
