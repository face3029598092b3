import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConnection } from '@gatehouse/config';

/** A connection of any REDIS_MODE: one node (standalone, or the Sentinel-monitored primary) or a cluster. */
export type RedisClient = Redis | Cluster;

/** What a caller asks of its connection, whatever the mode. */
export interface RedisClientOptions {
  connectionName: string;
  /** Per-node options (timeouts, retries, offline queue, pipelining) as ioredis takes them. */
  options: RedisOptions;
  /** Redis Cluster: pub/sub of sharded channels (SSUBSCRIBE) on a connection of its own per shard. */
  shardedSubscribers?: boolean;
}

/**
 * The one place a Redis connection is made, from the app's configuration (REDIS_MODE): a URL, a primary found
 * through Sentinels (which ioredis follows across a failover), or a cluster (commands routed by slot, redirections
 * followed, topology refreshed). Keys of one counter live in one slot by construction: each counter is one key.
 */
export function createRedisClient(connection: RedisConnection, request: RedisClientOptions): RedisClient {
  const common: RedisOptions = { ...request.options, connectionName: request.connectionName };
  switch (connection.mode) {
    case 'standalone':
      return new Redis(connection.url, common);
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: connection.sentinels,
        name: connection.name,
        username: connection.username,
        password: connection.password,
        sentinelPassword: connection.sentinelPassword,
        ...(connection.tls ? { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      });
    case 'cluster': {
      const {
        enableOfflineQueue,
        enableReadyCheck,
        enableAutoPipelining,
        maxRetriesPerRequest,
        retryStrategy,
        ...nodeOptions
      } = common;
      const clusterOptions: ClusterOptions = {
        redisOptions: {
          ...nodeOptions,
          maxRetriesPerRequest,
          username: connection.username,
          password: connection.password,
          ...(connection.tls ? { tls: {} } : {}),
        },
        ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
        ...(enableReadyCheck === undefined ? {} : { enableReadyCheck }),
        ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
        ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) ?? null } : {}),
        shardedSubscribers: request.shardedSubscribers ?? false,
      };
      return new Cluster(connection.nodes, clusterOptions);
    }
  }
}

/**
 * Whether `client` can run commands now. ioredis moves `status` on its connect, ready, close and end events, so a
 * scrape that reads it sees every drop and reconnection without listeners of ours.
 */
export function isRedisConnected(client: RedisClient): boolean {
  return client.status === 'ready';
}

/** Whether commands on `client` fail at once while it is disconnected (no offline queue) and have a timeout. */
export function isFailFast(client: RedisClient): boolean {
  // A cluster keeps the offline queue at its own level and the command timeout in its nodes' options.
  const commandTimeout =
    client instanceof Cluster ? client.options.redisOptions?.commandTimeout : client.options.commandTimeout;
  return client.options.enableOfflineQueue === false && typeof commandTimeout === 'number';
}
