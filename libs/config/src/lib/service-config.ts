import { IsIn, IsInt, IsString, Length, Matches, Max, Min } from 'class-validator';
import { Sensitive } from './sensitive.decorator';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Use with `@Transform(toBoolean)` on boolean variables: env values are strings. */
export const toBoolean = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? ['1', 'true', 'yes', 'on'].includes(value.toLowerCase()) : value;

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

  /** Largest request body accepted, in bytes. */
  @IsInt()
  @Min(1024)
  @Max(16 * 1024 * 1024)
  BODY_LIMIT_BYTES: number = 1024 * 1024;

  /**
   * Peers whose X-Forwarded-For is believed, as a comma-separated list of addresses, CIDRs or the names
   * loopback, linklocal, uniquelocal. Empty trusts nobody.
   */
  @Matches(/^[A-Za-z0-9.:/,_ -]*$/)
  TRUSTED_PROXIES: string = '';

  get isProduction(): boolean {
    return this.NODE_ENV === 'production';
  }
}

/** Variables of services that read PostgreSQL and listen to the revocation bus on Redis. */
export class DataServiceConfig extends HttpServiceConfig {
  @Sensitive()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL: string = 'postgres://postgres@127.0.0.1:5432/gatehouse';

  @IsInt()
  @Min(1)
  @Max(100)
  DATABASE_POOL_SIZE: number = 10;

  @Sensitive()
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL: string = 'redis://127.0.0.1:6379';

  /** Redis pub/sub channel for revocations; separate deployments sharing one Redis use distinct names. */
  @Matches(/^[A-Za-z0-9:._-]{1,100}$/)
  REVOCATION_CHANNEL: string = 'gatehouse:revocations';

  /** How often each node re-reads recent revocations from PostgreSQL to cover missed broadcasts. */
  @IsInt()
  @Min(100)
  @Max(300_000)
  REVOCATION_RECONCILE_MS: number = 5000;

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

/** Variables of services that verify access tokens. */
export class TokenVerifierConfig extends DataServiceConfig {
  /** Where the public signing keys are published (auth-service's JWKS). */
  @Matches(/^https?:\/\//, { message: 'JWKS_URL must be an http(s) URL' })
  JWKS_URL: string = 'http://127.0.0.1:3001/api/v1/auth/jwks';
}
