import { IsIn, IsNumberString, IsString, IsUrl, Matches, ValidateIf } from 'class-validator';
import { Sensitive } from './sensitive.decorator';

/** The OTLP encodings the apps can export traces in: both over HTTP. */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** The samplers of the OpenTelemetry specification that the Node SDK builds from OTEL_TRACES_SAMPLER. */
export const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

const protocolMessage = (name: string) =>
  `${name} must be one of ${OTLP_PROTOCOLS.join(', ')} (grpc is not supported: point the apps at the collector's OTLP/HTTP port, 4318)`;

const URL_OPTIONS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };

/**
 * The standard OTEL_* variables the apps read for tracing (docs/OPERATIONS.md, "Tracing (OpenTelemetry)"),
 * validated before the OpenTelemetry SDK reads them itself: tracing is off unless an OTLP endpoint is set. The
 * SDK only warns about a value it does not understand and goes on without traces; here a wrong value stops the
 * app at start, naming the variable, like every other setting.
 */
export class TelemetryConfig {
  @ValidateIf((config: TelemetryConfig) => config.OTEL_SDK_DISABLED !== undefined)
  @Matches(/^(true|false)$/i, { message: 'OTEL_SDK_DISABLED must be true or false' })
  OTEL_SDK_DISABLED: string | undefined = undefined;

  @ValidateIf((config: TelemetryConfig) => config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined)
  @IsUrl(URL_OPTIONS, { message: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL' })
  OTEL_EXPORTER_OTLP_ENDPOINT: string | undefined = undefined;

  @ValidateIf((config: TelemetryConfig) => config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined)
  @IsUrl(URL_OPTIONS, { message: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http(s) URL' })
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: string | undefined = undefined;

  @ValidateIf((config: TelemetryConfig) => config.OTEL_EXPORTER_OTLP_PROTOCOL !== undefined)
  @IsIn(OTLP_PROTOCOLS, { message: protocolMessage('OTEL_EXPORTER_OTLP_PROTOCOL') })
  OTEL_EXPORTER_OTLP_PROTOCOL: OtlpProtocol | undefined = undefined;

  @ValidateIf((config: TelemetryConfig) => config.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL !== undefined)
  @IsIn(OTLP_PROTOCOLS, { message: protocolMessage('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') })
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: OtlpProtocol | undefined = undefined;

  /** Often a vendor's API key (`x-api-key=…`): never logged, never echoed in an error. */
  @Sensitive()
  @ValidateIf((config: TelemetryConfig) => config.OTEL_EXPORTER_OTLP_HEADERS !== undefined)
  @Matches(/^\s*[^=,\s]+\s*=[^,]*(,\s*[^=,\s]+\s*=[^,]*)*$/, {
    message: 'OTEL_EXPORTER_OTLP_HEADERS must be a comma-separated list of name=value pairs',
  })
  OTEL_EXPORTER_OTLP_HEADERS: string | undefined = undefined;

  @ValidateIf((config: TelemetryConfig) => config.OTEL_SERVICE_NAME !== undefined)
  @IsString()
  OTEL_SERVICE_NAME: string | undefined = undefined;

  @ValidateIf((config: TelemetryConfig) => config.OTEL_TRACES_SAMPLER !== undefined)
  @IsIn(TRACES_SAMPLERS, { message: `OTEL_TRACES_SAMPLER must be one of ${TRACES_SAMPLERS.join(', ')}` })
  OTEL_TRACES_SAMPLER: string | undefined = undefined;

  @ValidateIf((config: TelemetryConfig) => config.OTEL_TRACES_SAMPLER_ARG !== undefined)
  @IsNumberString({}, { message: 'OTEL_TRACES_SAMPLER_ARG must be a number (the ratio, 0 to 1)' })
  OTEL_TRACES_SAMPLER_ARG: string | undefined = undefined;

  /** Tracing is on when an OTLP endpoint is set, unless OTEL_SDK_DISABLED=true. */
  get tracingEnabled(): boolean {
    if (this.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return false;
    return (
      this.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined || this.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined
    );
  }

  /** The encoding spans are exported in: the traces-specific variable first, as the SDK reads it. */
  get tracesProtocol(): OtlpProtocol {
    return this.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? this.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  }
}
