import { IsIn, IsInt, IsString, Length, Matches, Max, Min, ValidateIf } from 'class-validator';
import { Sensitive } from './sensitive.decorator';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const GATEWAY_SECRET_MESSAGE =
  'GATEWAY_SECRET must be 32–512 printable ASCII characters without spaces (required when NODE_ENV=production)';

/** Variables every HTTP service shares. Each app extends this with its own and validates it once at start. */
export class HttpServiceConfig {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @IsString()
  HOST: string = '127.0.0.1';

  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 0;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevel = 'info';

  /**
   * `json` (the default): one JSON object per line, for log collectors and production. `pretty`: one readable line
   * per entry, for a person at a terminal; `npm start` chooses it when its own output is a terminal.
   */
  @IsIn(LOG_FORMATS, { message: `LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}` })
  LOG_FORMAT: LogFormat = 'json';

  /** Largest request body accepted, in bytes. */
  @IsInt()
  @Min(1024)
  @Max(16 * 1024 * 1024)
  BODY_LIMIT_BYTES: number = 1024 * 1024;

  /**
   * Longest time a client may take to send a whole request (headers and body); past it the request is answered
   * 408 `request_timeout` and the connection closed, so slow clients cannot hold connections (and, through the
   * gateway, upstream connections) open. Headers alone get at most 10 s of it.
   */
  @IsInt()
  @Min(1000)
  @Max(600_000)
  REQUEST_TIMEOUT_MS: number = 30_000;

  /**
   * Peers whose X-Forwarded-For is believed, as a comma-separated list of addresses, CIDRs or the names
   * loopback, linklocal, uniquelocal. Empty trusts nobody.
   */
  @Matches(/^[A-Za-z0-9.:/,_ -]*$/)
  TRUSTED_PROXIES: string = '';

  /**
   * Shared by the gateway and every service: the gateway sends it with each request (and each token exchange)
   * it makes, and a service believes X-Forwarded-For, and answers `/internal/v1/token-exchange`, only on
   * requests carrying it. 32–512 printable ASCII characters, e.g. `openssl rand -base64 48`. Required with
   * NODE_ENV=production by the apps that use it; without it a service believes no X-Forwarded-For and refuses
   * every token exchange.
   */
  @Sensitive()
  @ValidateIf(
    (config: HttpServiceConfig) =>
      config.GATEWAY_SECRET !== undefined || (config.isProduction && config.gatewaySecretRequired),
  )
  @IsString({ message: GATEWAY_SECRET_MESSAGE })
  @Length(32, 512, { message: GATEWAY_SECRET_MESSAGE })
  @Matches(/^[\x21-\x7e]+$/, { message: GATEWAY_SECRET_MESSAGE })
  GATEWAY_SECRET: string | undefined = undefined;

  get isProduction(): boolean {
    return this.NODE_ENV === 'production';
  }

  /** True for the apps that send or check GATEWAY_SECRET: it is then required with NODE_ENV=production. */
  get gatewaySecretRequired(): boolean {
    return false;
  }

  /**
   * True for the services behind the gateway: they believe forwarding headers only on requests carrying
   * GATEWAY_SECRET (see createHttpApp); the gateway itself believes TRUSTED_PROXIES.
   */
  get behindGateway(): boolean {
    return false;
  }
}

/** PostgreSQL of a service run on its own (`nx serve <app>`, `node dist/apps/<app>/main.js`) without DATABASE_URL. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/gatehouse';

/** Redis of a service run on its own without REDIS_URL. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

type Environment = Record<string, string | undefined>;

/**
 * Both DATABASE_URL and REDIS_URL are optional. With neither set, `npm start` and the CLI work in standalone mode:
 * the whole suite in one process on an embedded PostgreSQL (PGlite) and an in-process revocation bus. With either
 * set, they use the servers: the one given, and the default above for the other. A service started on its own
 * always uses the servers (the defaults above when unset).
 */
export function isStandaloneEnvironment(environment: Environment = process.env): boolean {
  const isSet = (name: string) => (environment[name] ?? '') !== '';
  return !isSet('DATABASE_URL') && !isSet('REDIS_URL');
}

/**
 * Variables every app of one deployment agrees on: the Redis that carries the bus (and the gateway's rate-limit
 * counters) and the issuer, audience and clock tolerance of its tokens. The gateway verifies tokens too, to charge
 * each key's rate limit.
 */
export class ClusterServiceConfig extends HttpServiceConfig {
  /** Optional: see {@link isStandaloneEnvironment}. */
  @Sensitive()
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL: string = DEFAULT_REDIS_URL;

  /** Redis pub/sub channel for revocations; separate deployments sharing one Redis use distinct names. */
  @Matches(/^[A-Za-z0-9:._-]{1,100}$/)
  REVOCATION_CHANNEL: string = 'gatehouse:revocations';

  @IsString()
  @Length(1, 200)
  JWT_ISSUER: string = 'gatehouse';

  @IsString()
  @Length(1, 200)
  JWT_AUDIENCE: string = 'gatehouse-api';

  /** Accepted clock difference between nodes when checking `exp`/`nbf`, in seconds. */
  @IsInt()
  @Min(0)
  @Max(300)
  JWT_CLOCK_TOLERANCE_SECONDS: number = 5;
}

/** Variables of services that read PostgreSQL and listen to the revocation bus on Redis. */
export class DataServiceConfig extends ClusterServiceConfig {
  /** Optional: see {@link isStandaloneEnvironment}. */
  @Sensitive()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL: string = DEFAULT_DATABASE_URL;

  @IsInt()
  @Min(1)
  @Max(100)
  DATABASE_POOL_SIZE: number = 10;

  /** How often each node re-reads recent revocations from PostgreSQL to cover missed broadcasts. */
  @IsInt()
  @Min(100)
  @Max(300_000)
  REVOCATION_RECONCILE_MS: number = 5000;
}

/** Variables of services that verify access tokens. */
export class TokenVerifierConfig extends DataServiceConfig {
  /** Where the public signing keys are published (auth-service's JWKS). */
  @Matches(/^https?:\/\//, { message: 'JWKS_URL must be an http(s) URL' })
  JWKS_URL: string = 'http://127.0.0.1:3001/api/v1/auth/jwks';
}
