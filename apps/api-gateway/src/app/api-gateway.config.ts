import { join } from 'node:path';
import {
  IsIn,
  IsInt,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateIf,
  type ValidationOptions,
} from 'class-validator';
import { ClusterServiceConfig } from '@gatehouse/config';
import {
  type DashboardOptions,
  isExactOrigin,
  parseOriginList,
  type RateLimitStoreChoice,
  type RouteBodyLimit,
} from '@gatehouse/gateway';

const HTTP_URL = /^https?:\/\/[^/]+$/;
/** An issuer is a URL that may have a path (Keycloak's /realms/<name>, Entra ID's /<tenant>/v2.0). */
const ISSUER_URL = /^https?:\/\/[^/\s?#]+(\/[^\s?#]*)?$/;

/**
 * The built dashboard next to this bundle: dist/apps/dashboard beside dist/apps/api-gateway/main.js (in its own
 * process and inside the standalone host, which loads this same bundle).
 */
const BUILT_DASHBOARD_DIR = join(__dirname, '..', 'dashboard');
const URL_MESSAGE = (name: string) => ({ message: `${name} must be an http(s) origin without a path` });

/** Every byte of an upload is held in the gateway's memory until the upload is received whole. */
const MAX_FINDINGS_UPLOAD_LIMIT_BYTES = 64 * 1024 * 1024;
const FINDINGS_UPLOAD_LIMIT_MESSAGE =
  `FINDINGS_UPLOAD_LIMIT_BYTES must be a whole number of bytes from 1024 to ${MAX_FINDINGS_UPLOAD_LIMIT_BYTES} ` +
  '(64 MiB), e.g. 10485760 for 10 MiB';

/** A comma-separated list of exact http(s) origins (CORS_ORIGINS); empty is valid. */
function IsOriginList(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isOriginList',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && parseOriginList(value).every((origin) => isExactOrigin(origin)),
        defaultMessage: (args) => {
          const value = typeof args?.value === 'string' ? args.value : '';
          const wrong = parseOriginList(value).filter((origin) => !isExactOrigin(origin));
          return (
            `${args?.property} must be a comma-separated list of exact origins such as ` +
            `https://dashboard.example.com (http or https, lower case, no path, no trailing slash, no wildcard)` +
            (wrong.length > 0 ? `; not an origin: ${wrong.join(', ')}` : '')
          );
        },
      },
    },
    options,
  );
}

/** Besides its own variables, the gateway takes REDIS_*, KEY_EVENTS_* and JWT_* like every app. */
export class ApiGatewayConfig extends ClusterServiceConfig {
  override PORT: number = 8080;
  override MANAGEMENT_PORT: number = 9080;

  /** The gateway sends GATEWAY_SECRET to every service; without it, they believe no client address from it. */
  override get gatewaySecretRequired(): boolean {
    return true;
  }

  @Matches(HTTP_URL, URL_MESSAGE('AUTH_SERVICE_URL'))
  AUTH_SERVICE_URL: string = 'http://127.0.0.1:3001';

  @Matches(HTTP_URL, URL_MESSAGE('FINDINGS_SERVICE_URL'))
  FINDINGS_SERVICE_URL: string = 'http://127.0.0.1:3002';

  @Matches(HTTP_URL, URL_MESSAGE('ADMIN_API_URL'))
  ADMIN_API_URL: string = 'http://127.0.0.1:3003';

  /** An upstream that sends no response headers within this time gets the client a 504. */
  @IsInt()
  @Min(100)
  @Max(120_000)
  UPSTREAM_TIMEOUT_MS: number = 10_000;

  /**
   * Largest body of `POST /api/v1/findings` (scanners' reports, SARIF), as received: a gzip body counts compressed.
   * Every other route keeps BODY_LIMIT_BYTES. The gateway holds a body in memory until it is received whole, so this
   * much per upload in flight. Keep it equal to findings-service's SCAN_MAX_UPLOAD_BYTES.
   */
  @IsInt({ message: FINDINGS_UPLOAD_LIMIT_MESSAGE })
  @Min(1024, { message: FINDINGS_UPLOAD_LIMIT_MESSAGE })
  @Max(MAX_FINDINGS_UPLOAD_LIMIT_BYTES, { message: FINDINGS_UPLOAD_LIMIT_MESSAGE })
  FINDINGS_UPLOAD_LIMIT_BYTES: number = 10 * 1024 * 1024;

  /** The routes held to a body limit of their own instead of BODY_LIMIT_BYTES, by method and exact path. */
  routeBodyLimits(): RouteBodyLimit[] {
    return [{ method: 'POST', path: '/api/v1/findings', limitBytes: this.FINDINGS_UPLOAD_LIMIT_BYTES }];
  }

  /** Keep-alive connections kept per upstream. */
  @IsInt()
  @Min(1)
  @Max(1024)
  UPSTREAM_CONNECTIONS: number = 128;

  /**
   * Origins of the dashboards allowed to call the API from a browser (CORS), comma separated, exact; empty: no
   * CORS headers at all.
   */
  @IsOriginList()
  CORS_ORIGINS: string = '';

  corsOrigins(): string[] {
    return parseOriginList(this.CORS_ORIGINS);
  }

  /**
   * The built dashboard, served at `/`. Where it holds no index.html (an image built without it, or a path
   * pointing nowhere), nothing is served and `/` is a 404.
   */
  @IsString()
  @MaxLength(4096, { message: 'DASHBOARD_DIR must be a directory path of at most 4096 characters' })
  DASHBOARD_DIR: string = BUILT_DASHBOARD_DIR;

  /**
   * The identity provider the dashboard signs users in with: the issuer admin-api trusts (its OIDC_ISSUER). Empty:
   * the dashboard says sign-in is not configured.
   */
  @ValidateIf((config: ApiGatewayConfig) => config.DASHBOARD_OIDC_ISSUER !== '')
  @Matches(ISSUER_URL, {
    message: "DASHBOARD_OIDC_ISSUER must be the http(s) URL of the identity provider (its tokens' iss)",
  })
  DASHBOARD_OIDC_ISSUER: string = '';

  /** The dashboard's client at that provider: public, authorization code with PKCE, no secret. */
  @ValidateIf((config: ApiGatewayConfig) => config.DASHBOARD_OIDC_ISSUER !== '')
  @Matches(/^[\x21-\x7e]{1,255}$/, {
    message:
      'DASHBOARD_OIDC_CLIENT_ID is required when DASHBOARD_OIDC_ISSUER is set: the client id of the ' +
      "dashboard's public client (1-255 printable characters, no spaces)",
  })
  DASHBOARD_OIDC_CLIENT_ID: string = '';

  /** Scopes the dashboard asks for, space separated, openid first. */
  @Matches(/^openid( [\x21-\x7e]+)*$/, {
    message:
      'DASHBOARD_OIDC_SCOPE must be space-separated scopes starting with openid, e.g. "openid profile email"',
  })
  DASHBOARD_OIDC_SCOPE: string = 'openid profile email';

  dashboardOptions(): DashboardOptions {
    const oidc =
      this.DASHBOARD_OIDC_ISSUER === ''
        ? undefined
        : {
            issuer: this.DASHBOARD_OIDC_ISSUER,
            clientId: this.DASHBOARD_OIDC_CLIENT_ID,
            scope: this.DASHBOARD_OIDC_SCOPE,
          };
    return { dir: this.DASHBOARD_DIR, oidc };
  }

  /** auth-service's JWKS: the gateway verifies Gatehouse tokens to charge the right key's limit. */
  @Matches(/^https?:\/\//, { message: 'JWKS_URL must be an http(s) URL' })
  JWKS_URL: string = 'http://127.0.0.1:3001/api/v1/auth/jwks';

  /** `false` turns every limit off (to measure the limiter's cost); direct key authentication still works. */
  @IsIn(['true', 'false'], { message: 'RATE_LIMIT_ENABLED must be true or false' })
  RATE_LIMIT_ENABLED: string = 'true';

  /**
   * Where the limiter counts: `redis`, shared by every replica (each falls back to its own counters while Redis is
   * unreachable), or `memory`, this process alone (the standalone suite, where one gateway serves everything).
   */
  @IsIn(['redis', 'memory'], { message: 'RATE_LIMIT_STORE must be redis or memory' })
  RATE_LIMIT_STORE: RateLimitStoreChoice = 'redis';

  /** Prefix of the limiter's Redis keys; deployments sharing one Redis use distinct ones. */
  @Matches(/^[A-Za-z0-9:._-]{1,100}$/)
  RATE_LIMIT_KEY_PREFIX: string = 'gatehouse:rate-limit';

  /** A limiter call Redis has not answered within this is decided by this instance's local counters. */
  @IsInt()
  @Min(10)
  @Max(5000)
  RATE_LIMIT_REDIS_TIMEOUT_MS: number = 200;

  /**
   * For rules of at least 200 per window, a replica reserves 1/this of a window in Redis at a time and admits from
   * memory while it lasts; 0 asks Redis on every request (exact to the unit, one round trip each).
   */
  @IsInt()
  @Min(0)
  @Max(10_000)
  RATE_LIMIT_LEASE_DIVISOR: number = 100;

  /** Authenticate requests per second per API key... */
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  AUTH_RATE_LIMIT_PER_SECOND: number = 30;

  /** ...plus this many more per second once those are spent. */
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  AUTH_RATE_LIMIT_BURST: number = 10;

  /** Refused credentials (401, unknown key) tolerated per client IP within the window... */
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  AUTH_FAILURES_PER_IP: number = 20;

  @IsInt()
  @Min(1)
  @Max(86_400)
  AUTH_FAILURE_WINDOW_SECONDS: number = 60;

  /** ...past which the IP may present no credentials (429) for this long. */
  @IsInt()
  @Min(1)
  @Max(86_400)
  AUTH_FAILURE_BLOCK_SECONDS: number = 300;

  /** API calls per minute per token that is not a Gatehouse token (dashboard users), plus the burst below. */
  @IsInt()
  @Min(1)
  @Max(100_000)
  USER_RATE_LIMIT_PER_MINUTE: number = 300;

  @IsInt()
  @Min(0)
  @Max(10_000)
  USER_RATE_LIMIT_BURST: number = 50;
}
