import type { IncomingMessage } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { pino, stdSerializers, type DestinationStream, type Logger as PinoInstance } from 'pino';
import type { FastifyInstance } from 'fastify';
import { prettyFactory } from 'pino-pretty';
import type { DynamicModule, LoggerService } from '@nestjs/common';
import type { HttpServiceConfig, LogLevel } from '@gatehouse/config';
import { isTracing, traceLogFields } from '@gatehouse/telemetry';
import { redactSecrets, redactUrl } from './log-redaction';
import { METRICS_PATH, SERVICE_NAME } from './metrics';

const QUIET_PATHS = ['/health/', METRICS_PATH];

/** Probes and scrapes are not logged. */
export function isQuiet(req: Pick<IncomingMessage, 'url'>): boolean {
  const url = req.url ?? '';
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
function prettyStdout(destination?: DestinationStream): DestinationStream {
  const format = createPrettyFormatter();
  const out = destination ?? process.stdout;
  return { write: (line: string) => void out.write(format(line)) };
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

/** The app's pino logger, for {@link registerRequestLogging} (createHttpApp registers it). */
export const REQUEST_LOGGER = Symbol('REQUEST_LOGGER');

/**
 * One line per answered request, from a Fastify `onResponse` hook, as pino-http writes it (`request completed`, with `req`, `res` and
 * `responseTime`); an answer carrying an unexpected error (`res.err`) is `request errored` at error level, with it.
 */
export function registerRequestLogging(fastify: FastifyInstance, logger: PinoInstance): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const raw = request.raw;
    const error = (reply.raw as { err?: unknown }).err;
    if ((error !== undefined || logger.isLevelEnabled('info')) && !isQuiet(raw)) {
      const entry = {
        req: {
          id: request.id,
          method: request.method,
          url: raw.url ?? '',
          remoteAddress: raw.socket?.remoteAddress,
        },
        res: { statusCode: reply.statusCode },
        responseTime: Math.round(reply.elapsedTime),
      };
      if (error === undefined) logger.info(entry, 'request completed');
      else logger.error({ ...entry, err: error }, 'request errored');
    }
    done();
  });
}

/**
 * The app's pino logger, on stdout (`destination` replaces it in tests): JSON lines (LOG_FORMAT=json, the default),
 * or the same entries as readable lines (LOG_FORMAT=pretty). A bare level means JSON. Credentials are cut at the
 * serializer, not by redaction afterwards: the request serializer never reads headers at all, and writes the URL
 * without credential query parameters, keys or JWTs; error messages and stacks, and every message string, lose
 * keys and JWTs too. With tracing on, every line written inside a traced request carries its `trace_id` and
 * `span_id`; with tracing off no mixin is installed, so the lines and their cost are unchanged.
 */
export function createAppLogger(
  service: string,
  settings: LoggingSettings | LogLevel,
  destination?: DestinationStream,
): PinoInstance {
  const { LOG_LEVEL: level, LOG_FORMAT: format } =
    typeof settings === 'string' ? { LOG_LEVEL: settings, LOG_FORMAT: 'json' as const } : settings;
  const loggerOptions = {
    level,
    base: { service },
    messageKey: 'message',
    formatters: { level: (label: string) => ({ level: label }) },
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
    ...(isTracing() ? { mixin: traceLogFields } : {}),
  };
  const stream = format === 'pretty' ? prettyStdout(destination) : destination;
  return stream ? pino(loggerOptions, stream) : pino(loggerOptions);
}

/**
 * The app's logging for Nest (global): its pino logger (see {@link createAppLogger}) as Nest's logger and as
 * `REQUEST_LOGGER`, for the one line per request of {@link registerRequestLogging}, and the service's name as
 * `SERVICE_NAME`, which labels its metrics.
 */
export function createLoggerModule(service: string, settings: LoggingSettings | LogLevel): DynamicModule {
  const logger = createAppLogger(service, settings);
  // Nest's own lines and the apps' loggers write to this logger. No middleware is mounted: request lines come
  // from registerRequestLogging's hook, and nothing is bound per request (a middleware layer, a child logger and
  // an async context per request were a measurable share of every request's cost: docs/BENCHMARKS.md, M8).
  const module = LoggerModule.forRoot({ pinoHttp: { logger }, useExisting: true, forRoutes: [] });
  return withProviders(module, [
    { provide: SERVICE_NAME, useValue: service },
    { provide: REQUEST_LOGGER, useValue: logger },
  ]);
}

function withProviders(
  module: DynamicModule,
  providers: { provide: string | symbol; useValue: unknown }[],
): DynamicModule {
  return {
    ...module,
    providers: [...(module.providers ?? []), ...providers],
    exports: [...(module.exports ?? []), ...providers.map((provider) => provider.provide)],
  };
}
