import type { RedisConnection } from '@gatehouse/config';
import type Redis from 'ioredis';
import { createRedisClient, isFailFast, isRedisConnected, type RedisClient } from '@gatehouse/redis';
import { RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RateLimitStore, type StoreLimiterOptions } from './rate-limit-store';

export interface RateLimitRedisClientOptions {
  /** Longest a command may take before it fails (and the decision is taken locally). */
  commandTimeoutMs: number;
  /** Longest a connection attempt may take; default 2000. */
  connectTimeoutMs?: number;
  /** Reconnection attempts back off linearly up to this delay and go on forever; default 1000. */
  maxReconnectDelayMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
const DEFAULT_MAX_RECONNECT_DELAY_MS = 1_000;
const RECONNECT_STEP_MS = 100;

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number (got ${value})`);
  return value;
}

/**
 * A Redis client for `RedisRateLimitStore`: every command either completes within `commandTimeoutMs` or fails
 * at once, so a decision never waits on an unreachable Redis, and the client keeps reconnecting in the
 * background so that decisions go back to Redis by themselves.
 */
export function createRateLimitRedisClient(url: string, options: RateLimitRedisClientOptions): Redis;
export function createRateLimitRedisClient(
  connection: RedisConnection,
  options: RateLimitRedisClientOptions,
): RedisClient;
export function createRateLimitRedisClient(
  target: string | RedisConnection,
  options: RateLimitRedisClientOptions,
): RedisClient {
  const commandTimeout = positive('commandTimeoutMs', options.commandTimeoutMs);
  const connectTimeout = positive('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  const maxDelay = positive(
    'maxReconnectDelayMs',
    options.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS,
  );
  const connection: RedisConnection =
    typeof target === 'string' ? { mode: 'standalone', url: target } : target;
  const client = createRedisClient(connection, {
    connectionName: 'gatehouse-rate-limit',
    options: {
      // Every request of the gateway makes one limiter call: the calls of one event-loop turn leave in one write
      // instead of one write each, which is most of the limiter's CPU cost under load.
      enableAutoPipelining: true,
      // While disconnected, fail instead of queueing: a queued command is a request waiting for Redis.
      enableOfflineQueue: false,
      // Commands in flight when the connection drops fail at once rather than wait for a reconnection...
      maxRetriesPerRequest: 0,
      // ...and are not sent again after it: the request they served was already decided locally.
      autoResendUnfulfilledCommands: false,
      commandTimeout,
      connectTimeout,
      // How long disconnect() leaves a socket to close before destroying it. ioredis arms this timer even when
      // the socket is already gone (Redis down), and it then holds the process open for the default 2 s.
      disconnectTimeout: commandTimeout,
      // Never give up (returning a number keeps retrying); the cap bounds how long decisions stay local after
      // Redis is back.
      retryStrategy: (attempt: number) => Math.min(attempt * RECONNECT_STEP_MS, maxDelay),
      // The ready check's INFO may be refused by a restricted ACL user, and ioredis then writes to the console;
      // a Redis still loading its data answers LOADING, which fails the command and so decides locally anyway.
      enableReadyCheck: false,
    },
  });
  // Without a listener ioredis prints every connection error to stderr. Failures reach the owner through
  // RateLimiter's onStoreChange instead, once per change rather than once per reconnection attempt; the owner
  // may add its own 'error' listener as well.
  client.on('error', () => undefined);
  return client;
}

/**
 * Counters in Redis, shared by every gateway replica. Expects a fail-fast client (see
 * `createRateLimitRedisClient`) and takes ownership of it: `close()` disconnects it.
 */
export class RedisRateLimitStore extends RateLimitStore {
  readonly kind = 'shared';

  constructor(private readonly client: RedisClient) {
    super();
    // A client that queues offline or waits without limit would make requests hang while Redis is down.
    if (!isFailFast(client)) {
      throw new Error(
        'RedisRateLimitStore needs a fail-fast Redis client (enableOfflineQueue: false and a commandTimeout); ' +
          'create it with createRateLimitRedisClient',
      );
    }
  }

  createLimiter(options: StoreLimiterOptions): RateLimiterAbstract {
    return new RateLimiterRedis({
      storeClient: this.client,
      keyPrefix: options.keyPrefix,
      points: options.points,
      duration: options.durationSeconds,
      blockDuration: options.blockSeconds ?? 0,
      // Not connected: fail at once (the caller then decides locally) rather than send into a dead socket.
      rejectIfRedisNotReady: true,
    });
  }

  /** Whether the client is connected now, for `gatehouse_redis_connected{client="rate_limit"}`. */
  get connected(): boolean {
    return isRedisConnected(this.client);
  }

  close(): Promise<void> {
    // disconnect, not quit: quit would wait for replies from a Redis that may not be answering.
    this.client.disconnect();
    return Promise.resolve();
  }
}
