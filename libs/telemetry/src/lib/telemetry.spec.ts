/** Every package the SDK side loads: none of them may be required while tracing is off. */
const SDK_PACKAGES = [
  '@opentelemetry/sdk-node',
  '@opentelemetry/resources',
  '@opentelemetry/instrumentation-http',
  '@opentelemetry/instrumentation-undici',
  '@opentelemetry/instrumentation-pg',
  '@opentelemetry/instrumentation-ioredis',
  '@opentelemetry/exporter-trace-otlp-proto',
  '@opentelemetry/exporter-trace-otlp-http',
];

type Telemetry = typeof import('./telemetry');

interface FakeSdk {
  options: { traceExporter: { encoding: string }; resource: Record<string, unknown> };
  started: boolean;
}

/**
 * The module as an app loads it, with each SDK package replaced by a fake that records being required: what is
 * asserted is which packages the module requires, and what it hands the SDK. (The real SDK exports for real in
 * telemetry.int-spec.ts and the e2e test.)
 */
function loadTelemetry(): { telemetry: Telemetry; loaded: string[]; sdks: FakeSdk[] } {
  const loaded: string[] = [];
  const sdks: FakeSdk[] = [];
  jest.resetModules();
  class Instrumentation {}
  const fakes: Record<string, () => unknown> = {
    '@opentelemetry/sdk-node': () => ({
      NodeSDK: class {
        constructor(options: FakeSdk['options']) {
          sdks.push({ options, started: false });
        }
        start() {
          sdks[sdks.length - 1].started = true;
        }
      },
    }),
    '@opentelemetry/resources': () => ({
      defaultResource: () => ({ merge: (resource: Record<string, unknown>) => resource }),
      resourceFromAttributes: (attributes: Record<string, unknown>) => attributes,
    }),
    '@opentelemetry/instrumentation-http': () => ({ HttpInstrumentation: Instrumentation }),
    '@opentelemetry/instrumentation-undici': () => ({ UndiciInstrumentation: Instrumentation }),
    '@opentelemetry/instrumentation-pg': () => ({ PgInstrumentation: Instrumentation }),
    '@opentelemetry/instrumentation-ioredis': () => ({ IORedisInstrumentation: Instrumentation }),
    '@opentelemetry/exporter-trace-otlp-proto': () => ({
      OTLPTraceExporter: class {
        encoding = 'protobuf';
      },
    }),
    '@opentelemetry/exporter-trace-otlp-http': () => ({
      OTLPTraceExporter: class {
        encoding = 'json';
      },
    }),
  };
  for (const name of SDK_PACKAGES) {
    jest.doMock(name, () => {
      loaded.push(name);
      return fakes[name]();
    });
  }
  const telemetry = jest.requireActual<Telemetry>('./telemetry');
  return { telemetry, loaded, sdks };
}

const ACTIVE = Symbol.for('gatehouse.telemetry');

describe('configureTelemetry', () => {
  afterEach(() => {
    delete (globalThis as Record<symbol, unknown>)[ACTIVE];
    for (const name of SDK_PACKAGES) jest.dontMock(name);
  });

  it('loads nothing of the SDK without an OTLP endpoint: tracing is off by default', () => {
    const { telemetry, loaded } = loadTelemetry();
    expect(telemetry.configureTelemetry('api-gateway', {})).toBeUndefined();
    expect(telemetry.isTracing()).toBe(false);
    expect(loaded).toEqual([]);
  });

  it('loads nothing with OTEL_SDK_DISABLED=true, whatever the endpoint', () => {
    const { telemetry, loaded } = loadTelemetry();
    const environment = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' };
    expect(telemetry.configureTelemetry('api-gateway', environment)).toBeUndefined();
    expect(loaded).toEqual([]);
  });

  it('counts an empty endpoint as unset, as a ConfigMap with OTEL_EXPORTER_OTLP_ENDPOINT="" does', () => {
    const { telemetry, loaded } = loadTelemetry();
    expect(telemetry.configureTelemetry('api-gateway', { OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBeUndefined();
    expect(loaded).toEqual([]);
  });

  it('starts the SDK with the protobuf exporter by default, named after the app', () => {
    const { telemetry, loaded, sdks } = loadTelemetry();
    const active = telemetry.configureTelemetry('auth-service', {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    });
    expect(active).toEqual(expect.objectContaining({ service: 'auth-service', protocol: 'http/protobuf' }));
    expect(telemetry.isTracing()).toBe(true);
    expect(sdks).toHaveLength(1);
    expect(sdks[0].started).toBe(true);
    expect(sdks[0].options.traceExporter.encoding).toBe('protobuf');
    expect(sdks[0].options.resource).toEqual({ 'service.name': 'auth-service', 'service.version': '0.1.0' });
    expect(loaded).not.toContain('@opentelemetry/exporter-trace-otlp-http');
  });

  it('exports OTLP/JSON with OTEL_EXPORTER_OTLP_PROTOCOL=http/json, the traces variable first', () => {
    const { telemetry, sdks } = loadTelemetry();
    telemetry.configureTelemetry('findings-service', {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    });
    expect(sdks[0].options.traceExporter.encoding).toBe('json');
  });

  it('starts one SDK per process: a second app of the process (standalone mode) shares the first one', () => {
    const environment = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    const first = loadTelemetry();
    const host = first.telemetry.configureTelemetry('gatehouse-standalone', environment);
    // Each bundle has its own copy of the module.
    const second = loadTelemetry();
    expect(second.telemetry.configureTelemetry('api-gateway', environment)).toBe(host);
    expect(second.sdks).toHaveLength(0);
    expect(first.sdks).toHaveLength(1);
  });

  it.each([
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc'],
    ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'grpc'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
    ['OTEL_TRACES_SAMPLER', 'sometimes'],
    ['OTEL_SDK_DISABLED', 'yes'],
  ])('refuses %s=%s, naming the variable, before loading anything', (name, value) => {
    const { telemetry, loaded } = loadTelemetry();
    const start = () =>
      telemetry.configureTelemetry('api-gateway', {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        [name]: value,
      });
    // The configuration error of every app: `Invalid configuration:` and one line per variable.
    expect(start).toThrow(new RegExp(`^Invalid configuration:\\n  - ${name} `));
    expect(loaded).toEqual([]);
  });

  it('never echoes OTEL_EXPORTER_OTLP_HEADERS, which may hold a vendor key', () => {
    const { telemetry } = loadTelemetry();
    const start = () =>
      telemetry.configureTelemetry('api-gateway', {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_HEADERS: 'secret-vendor-key',
      });
    expect(start).toThrow('OTEL_EXPORTER_OTLP_HEADERS');
    expect(start).not.toThrow('secret-vendor-key');
  });
});

describe('redactQuery', () => {
  it('keeps the parameter names and drops every value', () => {
    const { telemetry } = loadTelemetry();
    expect(telemetry.redactQuery('?api_key=gh_live_123&limit=10')).toBe('?api_key=REDACTED&limit=REDACTED');
    expect(telemetry.redactQuery('flag')).toBe('flag=REDACTED');
    expect(telemetry.redactQuery('?')).toBe('?');
  });
});
