import { IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min, ValidateIf } from 'class-validator';
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

  /**
   * The management listener's port: `GET /metrics` is served there and nowhere else, so that a scraper reaches it
   * inside the cluster while the public port (and the gateway, which only forwards `/api`) never exposes it. Each
   * app has its own default; 0 picks a free port, as PORT does.
   */
  @IsInt({ message: 'MANAGEMENT_PORT must be an integer from 0 to 65535' })
  @Min(0, { message: 'MANAGEMENT_PORT must be an integer from 0 to 65535' })
  @Max(65535, { message: 'MANAGEMENT_PORT must be an integer from 0 to 65535' })
  MANAGEMENT_PORT: number = 0;

  /** The management listener's address; HOST when unset (e.g. 127.0.0.1 to keep metrics off the network). */
  @IsOptional()
  @IsString()
  MANAGEMENT_HOST: string | undefined = undefined;

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

  get managementHost(): string {
    return this.MANAGEMENT_HOST ?? this.HOST;
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
 * the whole suite in one process on an embedded PostgreSQL (PGlite) and an in-process key-event bus (the standalone
 * suite then sets DATABASE_DRIVER=embedded and KEY_EVENTS_BUS=in-process for the apps it hosts). With either
 * set, they use the servers: the one given, and the default above for the other. A service started on its own
 * always uses the servers (the defaults above when unset).
 */
export function isStandaloneEnvironment(environment: Environment = process.env): boolean {
  const isSet = (name: string) => (environment[name] ?? '') !== '';
  return !isSet('DATABASE_URL') && !isSet('REDIS_URL');
}

/** One `host:port` of REDIS_SENTINELS or REDIS_CLUSTER_NODES. */
export interface RedisNode {
  host: string;
  port: number;
}

/** Credentials and TLS of the Redis nodes (and Sentinels) of the sentinel and cluster modes. */
export interface RedisAuth {
  username?: string;
  password?: string;
  tls: boolean;
}

/**
 * The Redis an app connects to, as its configuration chose it (REDIS_MODE): one node by URL, a Sentinel-monitored
 * primary, or a Redis Cluster.
 */
export type RedisConnection =
  | { mode: 'standalone'; url: string }
  | ({ mode: 'sentinel'; sentinels: RedisNode[]; name: string; sentinelPassword?: string } & RedisAuth)
  | ({ mode: 'cluster'; nodes: RedisNode[] } & RedisAuth);

export const REDIS_MODES = ['standalone', 'sentinel', 'cluster'] as const;

/** KEY_EVENTS_BUS: Redis pub/sub between processes, or a channel inside one process (the standalone suite). */
export const KEY_EVENTS_TRANSPORTS = ['redis', 'in-process'] as const;
export type KeyEventsTransport = (typeof KEY_EVENTS_TRANSPORTS)[number];

/** DATABASE_DRIVER: a PostgreSQL server, or the embedded PGlite database of the standalone suite. */
export const DATABASE_DRIVERS = ['postgres', 'embedded'] as const;
export type DatabaseDriver = (typeof DATABASE_DRIVERS)[number];

export const DEFAULT_KEY_EVENTS_CHANNEL = 'gatehouse:key-events';
const CHANNEL_NAME = /^[A-Za-z0-9:._-]{1,100}$/;

/** `host:port,host:port`: names or IPv4 addresses (IPv6 in brackets), ports 1–65535. */
const NODE_LIST =
  /^(?:(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5})(?:,(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5})*$/;

function parseNodes(list: string): RedisNode[] {
  return list.split(',').map((entry) => {
    const at = entry.lastIndexOf(':');
    const host = entry.slice(0, at).replace(/^\[(.*)\]$/, '$1');
    return { host, port: Number(entry.slice(at + 1)) };
  });
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

  /** standalone: REDIS_URL. sentinel: REDIS_SENTINELS + REDIS_SENTINEL_NAME. cluster: REDIS_CLUSTER_NODES. */
  @IsIn(REDIS_MODES, { message: `REDIS_MODE must be one of ${REDIS_MODES.join(', ')}` })
  REDIS_MODE: (typeof REDIS_MODES)[number] = 'standalone';

  /** `host:port,…` of the Sentinels (REDIS_MODE=sentinel). */
  @ValidateIf((config: ClusterServiceConfig) => config.REDIS_MODE === 'sentinel')
  @Matches(NODE_LIST, { message: 'REDIS_SENTINELS must be host:port[,host:port…] with REDIS_MODE=sentinel' })
  REDIS_SENTINELS: string = '';

  /** The primary's name the Sentinels monitor (REDIS_MODE=sentinel). */
  @ValidateIf((config: ClusterServiceConfig) => config.REDIS_MODE === 'sentinel')
  @Matches(/^[A-Za-z0-9._-]{1,100}$/, {
    message: 'REDIS_SENTINEL_NAME must be the monitored name (1–100 of A-Za-z0-9._-)',
  })
  REDIS_SENTINEL_NAME: string = 'mymaster';

  /** `host:port,…` of some of the cluster's nodes; the rest is discovered (REDIS_MODE=cluster). */
  @ValidateIf((config: ClusterServiceConfig) => config.REDIS_MODE === 'cluster')
  @Matches(NODE_LIST, {
    message: 'REDIS_CLUSTER_NODES must be host:port[,host:port…] with REDIS_MODE=cluster',
  })
  REDIS_CLUSTER_NODES: string = '';

  /** ACL user and password of the Redis nodes, in the sentinel and cluster modes (REDIS_URL carries its own). */
  @IsString()
  @Length(0, 200)
  REDIS_USERNAME: string = '';

  @Sensitive()
  @IsString()
  @Length(0, 500)
  REDIS_PASSWORD: string = '';

  /** The Sentinels' own password, when they have one. */
  @Sensitive()
  @IsString()
  @Length(0, 500)
  REDIS_SENTINEL_PASSWORD: string = '';

  /** TLS to the Redis nodes (and Sentinels), in the sentinel and cluster modes; `rediss://` in REDIS_URL otherwise. */
  @IsIn(['true', 'false'], { message: 'REDIS_TLS must be true or false' })
  REDIS_TLS: string = 'false';

  /** The Redis this app connects to, as REDIS_MODE chose it. */
  get redisConnection(): RedisConnection {
    const auth: RedisAuth = {
      ...(this.REDIS_USERNAME ? { username: this.REDIS_USERNAME } : {}),
      ...(this.REDIS_PASSWORD ? { password: this.REDIS_PASSWORD } : {}),
      tls: this.REDIS_TLS === 'true',
    };
    switch (this.REDIS_MODE) {
      case 'standalone':
        return { mode: 'standalone', url: this.REDIS_URL };
      case 'sentinel':
        return {
          mode: 'sentinel',
          sentinels: parseNodes(this.REDIS_SENTINELS),
          name: this.REDIS_SENTINEL_NAME,
          ...(this.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: this.REDIS_SENTINEL_PASSWORD } : {}),
          ...auth,
        };
      case 'cluster':
        return { mode: 'cluster', nodes: parseNodes(this.REDIS_CLUSTER_NODES), ...auth };
    }
  }

  /**
   * How this app exchanges key events (revocations, disables, rate-limit and allowlist changes) with the others:
   * `redis` pub/sub between processes (REDIS_MODE says which Redis), or `in-process` when the four apps share one
   * process (the standalone suite sets it). Chosen here, never guessed from what the process happens to hold.
   */
  @IsIn(KEY_EVENTS_TRANSPORTS, {
    message: `KEY_EVENTS_BUS must be one of ${KEY_EVENTS_TRANSPORTS.join(', ')}`,
  })
  KEY_EVENTS_BUS: KeyEventsTransport = 'redis';

  /** Pub/sub channel of the key events; separate deployments sharing one Redis use distinct names. */
  @ValidateIf((config: ClusterServiceConfig) => config.KEY_EVENTS_CHANNEL !== '')
  @Matches(CHANNEL_NAME, { message: 'KEY_EVENTS_CHANNEL must be 1–100 of A-Za-z0-9:._-' })
  KEY_EVENTS_CHANNEL: string = '';

  /** The earlier name of KEY_EVENTS_CHANNEL, still read when that is unset, so that existing manifests keep working. */
  @ValidateIf((config: ClusterServiceConfig) => config.REVOCATION_CHANNEL !== '')
  @Matches(CHANNEL_NAME, { message: 'REVOCATION_CHANNEL must be 1–100 of A-Za-z0-9:._-' })
  REVOCATION_CHANNEL: string = '';

  /** KEY_EVENTS_CHANNEL, else the deprecated REVOCATION_CHANNEL, else {@link DEFAULT_KEY_EVENTS_CHANNEL}. */
  get keyEventsChannel(): string {
    return this.KEY_EVENTS_CHANNEL || this.REVOCATION_CHANNEL || DEFAULT_KEY_EVENTS_CHANNEL;
  }

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

/** Variables of services that read PostgreSQL and listen to the key-event bus on Redis. */
export class DataServiceConfig extends ClusterServiceConfig {
  /**
   * `postgres`: the server of DATABASE_URL. `embedded`: the PGlite database the standalone suite opened in this
   * process (it sets this for the apps it hosts); an app started on its own with it refuses to start.
   */
  @IsIn(DATABASE_DRIVERS, { message: `DATABASE_DRIVER must be one of ${DATABASE_DRIVERS.join(', ')}` })
  DATABASE_DRIVER: DatabaseDriver = 'postgres';

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
