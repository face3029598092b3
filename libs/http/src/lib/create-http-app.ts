import type { DynamicModule, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyServerOptions } from 'fastify';
import { Logger } from 'nestjs-pino';
import type { HttpServiceConfig } from '@gatehouse/config';
import { redactConfig } from '@gatehouse/config';
import { GatehouseError } from '@gatehouse/contracts';
import { isTracing } from '@gatehouse/telemetry';
import { ErrorFilter } from './error.filter';
import { answerClientError, answerFrameworkError, type AnswerHeaders } from './framework-errors';
import { registerForwardedAddressCheck, registerGatewayTrust, serviceTrustProxy } from './gateway-trust';
import {
  enableGracefulShutdown,
  GRACEFUL_SERVER_OPTIONS,
  type GracefulShutdownOptions,
} from './graceful-shutdown';
import { portUnavailable, startManagementServer } from './management-server';
import { bindMetrics, GatehouseMetrics, instrumentHttp } from './metrics';
import { QuietStartupLogger, registerRequestLogging, REQUEST_LOGGER } from './logging';
import type { Logger as PinoInstance } from 'pino';
import { buildOpenApiDocument, serveOpenApiDocument, type OpenApiOptions } from './openapi';
import type { WithRawBody } from './raw-body';
import {
  rawBodyRouteOf,
  registerRawBodyRoutes,
  unsupportedMediaType,
  type RawBodyRoute,
} from './raw-body-routes';
import { REQUEST_ID_HEADER, resolveRequestId } from './request-id';
import { requestTimeouts } from './request-timeouts';
import { findUnsafeInput, registerInputChecks, unsafeInputError } from './safe-input';
import { registerSpanNaming } from './tracing';
import { createValidationPipe } from './validation';

export interface HttpAppOptions {
  /** Runs after the app is built and before it listens: the gateway mounts its proxy routes here. */
  configure?: (app: NestFastifyApplication) => Promise<void>;
  /** False for the gateway, which streams bodies to upstreams instead of parsing them. */
  parseJsonBodies?: boolean;
  /** Generates the service's OpenAPI document from its controllers and serves it at `GET /openapi.json`. */
  openApi?: OpenApiOptions;
  /** Signals, drain and hook timeouts of the graceful shutdown (defaults: SIGTERM and SIGINT, 10 s, 10 s). */
  shutdown?: GracefulShutdownOptions;
  /** Fastify's `rewriteUrl`, run before routing: the gateway's path normalization. */
  rewriteUrl?: FastifyServerOptions['rewriteUrl'];
  /**
   * Headers written on the answers no hook sees (Node's 400/408/431 on the socket, the router's 400/414): the
   * gateway's security headers, which its hooks give every other answer.
   */
  answerHeaders?: AnswerHeaders;
  /** Routes that receive the bytes sent, under a body limit of their own (see raw-body-routes.ts). */
  rawBodyRoutes?: readonly RawBodyRoute[];
}

export async function createHttpApp(
  module: Type | DynamicModule,
  config: HttpServiceConfig,
  options: HttpAppOptions = {},
): Promise<NestFastifyApplication> {
  const timeouts = requestTimeouts(config.REQUEST_TIMEOUT_MS);
  const adapter = new FastifyAdapter({
    bodyLimit: config.BODY_LIMIT_BYTES,
    // A request not received in time gets 408 (answerClientError below), instead of holding its connection.
    requestTimeout: timeouts.requestTimeout,
    http: {
      headersTimeout: timeouts.headersTimeout,
      connectionsCheckingInterval: timeouts.connectionsCheckingInterval,
    },
    genReqId: resolveRequestId,
    logger: false,
    // No Nest middleware is used (request lines come from a Fastify hook, see logging.ts): without middie, no
    // request pays for a middleware layer it does not have.
    skipMiddie: true,
    // A service believes X-Forwarded-For only from the gateway (see gateway-trust.ts); the gateway from
    // TRUSTED_PROXIES.
    trustProxy: config.behindGateway
      ? serviceTrustProxy(config.TRUSTED_PROXIES)
      : config.TRUSTED_PROXIES
        ? config.TRUSTED_PROXIES.split(',').map((entry) => entry.trim())
        : false,
    ...(options.rewriteUrl ? { rewriteUrl: options.rewriteUrl } : {}),
    // Answers given before any route or hook runs, in the error shape instead of Fastify's or Node's own.
    frameworkErrors: answerFrameworkError(options.answerHeaders ?? {}),
    clientErrorHandler: answerClientError(options.answerHeaders ?? {}),
    ...GRACEFUL_SERVER_OPTIONS,
  });
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    bufferLogs: true,
    abortOnError: false,
    // Body parsing is set up below, on Fastify directly, so that its errors carry the suite's codes.
    bodyParser: false,
  });
  app.useLogger(new QuietStartupLogger(app.get(Logger)));
  app.useGlobalFilters(new ErrorFilter());
  app.useGlobalPipes(createValidationPipe());
  // Instead of Nest's enableShutdownHooks: drain first (bounded), then the hooks that flush batched writes, exit 0.
  enableGracefulShutdown(app, options.shutdown);

  const fastify = app.getHttpAdapter().getInstance();
  // First of all hooks: nothing may read the client address before untrusted forwarding headers are gone.
  if (config.behindGateway) registerGatewayTrust(fastify, config.GATEWAY_SECRET);
  // Before any route exists: Nest registers its own when the app initializes, in listen() below.
  const metrics = metricsOf(app);
  metrics.collectDefaultMetrics();
  bindMetrics(app, metrics);
  instrumentHttp(fastify, metrics);
  const requestLogger = requestLoggerOf(app);
  if (requestLogger) registerRequestLogging(fastify, requestLogger);
  if (isTracing()) registerSpanNaming(fastify);
  // Only JSON is spoken; without this, text/plain bodies would reach validation as strings instead of a 415.
  fastify.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser (with prototype-poisoning protection), but failing with our code: Nest would
  // otherwise turn its error into an anonymous 400.
  if (options.parseJsonBodies ?? true) {
    const rawBodyRoutes = options.rawBodyRoutes ?? [];
    registerRawBodyRoutes(fastify, rawBodyRoutes);
    const parseJson = fastify.getDefaultJsonParser('error', 'error');
    fastify.removeContentTypeParser('application/json');
    // Received as bytes: raw-body routes take them as they are (they may be gzip); the others parse them as JSON.
    fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, bytes, done) => {
      if (rawBodyRouteOf(request)) {
        done(null, bytes);
        return;
      }
      const body = (bytes as Buffer).toString('utf8');
      // Kept as sent for signature checks over the exact body (raw-body.ts); parsing must not alter it.
      (request as WithRawBody).rawBody = body;
      void parseJson(request, body, (error, value) => {
        if (error) {
          done(new GatehouseError('malformed_json', 'Request body is not valid JSON'), undefined);
          return;
        }
        // Before validation, which recurses per level, and before PostgreSQL, which refuses NUL and lone surrogates.
        const unsafe = findUnsafeInput(value);
        if (unsafe) done(unsafeInputError('body', unsafe), undefined);
        else done(null, value);
      });
    });
    const otherRawTypes = new Set(
      rawBodyRoutes.flatMap((route) => route.mediaTypes).filter((type) => type !== 'application/json'),
    );
    for (const mediaType of otherRawTypes) {
      fastify.addContentTypeParser(mediaType, { parseAs: 'buffer' }, (request, bytes, done) => {
        const route = rawBodyRouteOf(request);
        if (route?.mediaTypes.includes(mediaType)) done(null, bytes);
        else done(unsupportedMediaType(route), undefined);
      });
    }
    if (rawBodyRoutes.length > 0) {
      // Any other type: a 415 that names what the route accepts.
      fastify.addContentTypeParser('*', (request, _payload, done) =>
        done(unsupportedMediaType(rawBodyRouteOf(request)), undefined),
      );
    }
  }
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  // Before any route or limit reads the client address a trusted proxy wrote (services: registerGatewayTrust).
  if (!config.behindGateway && config.TRUSTED_PROXIES) {
    registerForwardedAddressCheck(fastify, options.answerHeaders ?? {});
  }
  registerInputChecks(fastify);

  if (options.openApi) serveOpenApiDocument(app, buildOpenApiDocument(app, options.openApi));
  if (options.configure) await options.configure(app);
  // /metrics is served on a port of its own, never the public one (see startManagementServer). Closed with the
  // app, after the drain, so that a scrape during the drain still sees the last requests counted. A refused port
  // leaves nothing open behind it: the caller may be a test (or the standalone host) that goes on.
  const management = await startManagementServer(
    metrics,
    config.managementHost,
    config.MANAGEMENT_PORT,
  ).catch(async (error: unknown) => {
    await app.close();
    throw error;
  });
  fastify.addHook('onClose', () => management.close());
  try {
    await listen(app, config);
  } catch (error) {
    await app.close();
    throw error;
  }
  const url = await app.getUrl();
  const managementUrl = management.url;
  if (config.LOG_FORMAT === 'pretty') {
    // A person reads these: the URL at once, the whole configuration only when asked for (LOG_LEVEL=debug).
    app.get(Logger).log(`listening on ${url} (metrics on ${managementUrl}/metrics)`);
    app.get(Logger).debug({ config: redactConfig(config) }, 'configuration');
  } else {
    app.get(Logger).log({ config: redactConfig(config), url, management_url: managementUrl }, 'listening');
  }
  return app;
}

async function listen(app: NestFastifyApplication, config: HttpServiceConfig): Promise<void> {
  try {
    await app.listen({ port: config.PORT, host: config.HOST });
  } catch (error) {
    throw portUnavailable(error, config.PORT, config.HOST, 'PORT');
  }
}

/** HealthModule.forRoot() provides the metrics; an app without it still gets its own registry. */
function metricsOf(app: NestFastifyApplication): GatehouseMetrics {
  try {
    return app.get(GatehouseMetrics, { strict: false });
  } catch {
    return new GatehouseMetrics('gatehouse');
  }
}

/** The logger of `createLoggerModule(…, { requestLogging: 'hooks' })`; none with the middleware. */
function requestLoggerOf(app: NestFastifyApplication): PinoInstance | undefined {
  try {
    return app.get<symbol, PinoInstance>(REQUEST_LOGGER, { strict: false });
  } catch {
    // Not provided: pino-http logs each request as Nest middleware.
    return undefined;
  }
}

/** Start-up failures (a bad variable, an unreachable dependency) end the process with a readable reason. */
export function exitOnStartupError(service: string): (error: unknown) => never {
  return (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `${JSON.stringify({ level: 'fatal', service, message: `${service} failed to start: ${message}` })}\n`,
    );
    process.exit(1);
  };
}
