// The OTEL_* variables are validated by a decorated config class, read with the decorators' type metadata.
import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import { trace, type Span, ProxyTracerProvider } from '@opentelemetry/api';
import type { NodeSDK, NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { loadConfig, TelemetryConfig, type OtlpProtocol } from '@gatehouse/config';
import { GATEHOUSE_VERSION } from '@gatehouse/contracts';

/**
 * This module is the first thing each app's bundle evaluates (apps/<app>/src/instrument.ts), before anything
 * requires fastify, pg, ioredis or undici: the instrumentations hook `require`, so they must be registered
 * before those packages load. It must therefore never import them itself, and it loads the SDK and the
 * instrumentations with `require` only when tracing is on: with tracing off, none of it is ever loaded.
 */

/** What runs in this process once tracing is on. */
export interface ActiveTelemetry {
  /** The app that started it: in standalone mode the host, whose SDK the four apps share. */
  service: string;
  protocol: OtlpProtocol;
  sdk: NodeSDK;
}

/**
 * Process-wide, not module-wide: standalone mode loads the four apps' bundles into one process, each with its own
 * copy of this module, and there must be one SDK (OpenTelemetry's global providers and `require` hooks are
 * per process; a second SDK would wrap every module twice).
 */
const ACTIVE = Symbol.for('gatehouse.telemetry');
type TelemetryGlobal = typeof globalThis & { [ACTIVE]?: ActiveTelemetry };

/** The tracing of this process, or undefined when it is off. */
export function activeTelemetry(): ActiveTelemetry | undefined {
  return (globalThis as TelemetryGlobal)[ACTIVE];
}

export function isTracing(): boolean {
  return activeTelemetry() !== undefined;
}

/** Probes and scrapes: polled every few seconds, they would drown the traces that matter. */
const UNTRACED_PATH_PREFIXES = ['/health/', '/metrics'];

function isUntraced(url: string | undefined): boolean {
  const path = url ?? '';
  return UNTRACED_PATH_PREFIXES.some((prefix) => path.startsWith(prefix));
}

/**
 * A query string as recorded on a span: its parameter names, never their values. Clients may put an API key or a
 * token in the query (the logs cut those the same way), and traces leave the process for a collector.
 */
export function redactQuery(query: string): string {
  const search = query.startsWith('?') ? query.slice(1) : query;
  if (search === '') return query;
  const names = search.split('&').map((pair) => `${pair.split('=')[0]}=REDACTED`);
  return `${query.startsWith('?') ? '?' : ''}${names.join('&')}`;
}

function queryOf(pathWithQuery: string | undefined): string | undefined {
  const at = pathWithQuery?.indexOf('?') ?? -1;
  return at >= 0 ? pathWithQuery?.slice(at) : undefined;
}

/** The packages loaded only with tracing on; `require` (not `import`) keeps them out of a process without it. */
/* eslint-disable @typescript-eslint/no-require-imports -- loaded lazily on purpose: see the comment above */
function loadSdk() {
  return {
    sdk: require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node'),
    resources: require('@opentelemetry/resources') as typeof import('@opentelemetry/resources'),
    http: require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http'),
    undici:
      require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici'),
    pg: require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg'),
    ioredis:
      require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis'),
  };
}

/** The OTLP exporter of the configured encoding; it reads the endpoint, headers and timeout from OTEL_* itself. */
export function createTraceExporter(protocol: OtlpProtocol): NodeSDKConfiguration['traceExporter'] {
  switch (protocol) {
    case 'http/protobuf': {
      const { OTLPTraceExporter } =
        require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto');
      return new OTLPTraceExporter();
    }
    case 'http/json': {
      const { OTLPTraceExporter } =
        require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
      return new OTLPTraceExporter();
    }
  }
}
/* eslint-enable @typescript-eslint/no-require-imports */

function createSdk(service: string, config: TelemetryConfig): NodeSDK {
  const { sdk, resources, http, undici, pg, ioredis } = loadSdk();
  return new sdk.NodeSDK({
    // Merged under what the resource detectors find, so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
    resource: resources
      .defaultResource()
      .merge(
        resources.resourceFromAttributes({ 'service.name': service, 'service.version': GATEHOUSE_VERSION }),
      ),
    traceExporter: createTraceExporter(config.tracesProtocol),
    // Traces only: the metrics stay on /metrics for Prometheus, and the logs on stdout.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new http.HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => isUntraced(request.url),
        requestHook: (span: Span, request) => {
          // Incoming requests only: the apps make no outgoing requests with node:http (the exporter's own are
          // never traced).
          const query = queryOf((request as IncomingMessage).url);
          if (query !== undefined) span.setAttribute('url.query', redactQuery(query).slice(1));
        },
      }),
      // The gateway's upstream pools and the verifiers' JWKS fetches; it writes `traceparent` on each request.
      new undici.UndiciInstrumentation({
        requestHook: (span, request) => {
          const query = queryOf(request.path);
          if (query === undefined) return;
          const path = request.path.slice(0, request.path.length - query.length);
          span.setAttribute('url.full', `${request.origin}${path}${redactQuery(query)}`);
          span.setAttribute('url.query', redactQuery(query).slice(1));
        },
      }),
      // Statements with their $n placeholders, never the values bound to them. Only inside a traced request: the
      // background loops (scan worker, revocation reconcile, usage flush) would otherwise make a trace a second.
      new pg.PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true }),
      // The command's name alone: the limiter's keys hold client addresses and key ids.
      new ioredis.IORedisInstrumentation({
        requireParentSpan: true,
        dbStatementSerializer: (command) => command,
      }),
    ],
  });
}

/**
 * Starts tracing for this process when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set
 * and OTEL_SDK_DISABLED is not true; otherwise loads nothing. `service` is service.name unless OTEL_SERVICE_NAME
 * says otherwise. A second call in the same process (standalone mode) returns the running one. Throws
 * ConfigValidationError for a wrong OTEL_* value. `environment` is what is validated and decides whether tracing
 * starts; the SDK and its exporters read the same variables from `process.env` themselves.
 */
export function configureTelemetry(
  service: string,
  environment: Record<string, string | undefined> = process.env,
): ActiveTelemetry | undefined {
  const running = activeTelemetry();
  if (running) return running;
  const config = loadConfig(TelemetryConfig, environment);
  if (!config.tracingEnabled) return undefined;
  const sdk = createSdk(service, config);
  sdk.start();
  const active: ActiveTelemetry = { service, protocol: config.tracesProtocol, sdk };
  (globalThis as TelemetryGlobal)[ACTIVE] = active;
  return active;
}

/**
 * {@link configureTelemetry} for an app's instrument.ts: a wrong OTEL_* value stops the app with the same fatal
 * line as any other configuration error (the app's logger does not exist yet, and must not: it loads pino).
 */
export function startTelemetry(service: string): ActiveTelemetry | undefined {
  try {
    return configureTelemetry(service);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `${JSON.stringify({ level: 'fatal', service, message: `${service} failed to start: ${message}` })}\n`,
    );
    process.exit(1);
  }
}

/** Longest wait for the last spans to reach the collector at shutdown. */
export const DEFAULT_TELEMETRY_FLUSH_MS = 5_000;

/**
 * Exports the spans still batched, waiting at most `timeoutMs`; resolves to false when that was not enough or the
 * export failed (the spans are then lost, the shutdown goes on). Flushed rather than shut down: in standalone mode
 * the other apps of the process may still be answering their last requests.
 */
export async function flushTelemetry(timeoutMs = DEFAULT_TELEMETRY_FLUSH_MS): Promise<boolean> {
  if (!isTracing()) return true;
  const provider = trace.getTracerProvider();
  const delegate = (provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider) as {
    forceFlush?: () => Promise<void>;
  };
  if (typeof delegate.forceFlush !== 'function') return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    const flushed = delegate.forceFlush().then(
      () => true,
      () => false,
    );
    return await Promise.race([flushed, late]);
  } finally {
    clearTimeout(timer);
  }
}
