import { Logger } from '@nestjs/common';
import type { RedisConnection } from '@gatehouse/config';
import type { KeyEvent } from '@gatehouse/contracts';
import { createRedisClient, isRedisConnected, type RedisClient } from '@gatehouse/redis';
import { parseKeyEvent, KeyEventBus, type RedisConnectionCheck, type KeyEventHandler } from './key-event-bus';

/** Longest start-up waits for the revocation subscription before going on without it. */
const SUBSCRIBE_WAIT_MS = 500;
/**
 * Longest a publish waits for the publisher's connection to come up (at start-up, or after Redis dropped it): a
 * revocation made in that moment is still broadcast at once instead of waiting for the other nodes' reconcile.
 */
const PUBLISH_READY_WAIT_MS = 500;

export interface RedisKeyEventBusOptions {
  /** A `redis://` URL, or the connection REDIS_MODE chose. */
  redis: string | RedisConnection;
  channel: string;
}

export class RedisKeyEventBus extends KeyEventBus {
  private readonly logger = new Logger(RedisKeyEventBus.name);
  private readonly connection: RedisConnection;
  /**
   * On a Redis Cluster the channel is a sharded one (SPUBLISH/SSUBSCRIBE, Redis 7): a message travels to the one
   * shard that owns the channel's slot, instead of being broadcast over the whole cluster bus.
   */
  private readonly sharded: boolean;
  private readonly publisher: RedisClient;
  private subscriber: RedisClient | undefined;

  constructor(private readonly options: RedisKeyEventBusOptions) {
    super();
    this.connection =
      typeof options.redis === 'string' ? { mode: 'standalone', url: options.redis } : options.redis;
    this.sharded = this.connection.mode === 'cluster';
    // No offline queue: while Redis is down a publish fails at once instead of piling up in memory.
    this.publisher = createRedisClient(this.connection, {
      connectionName: 'gatehouse-revocation-pub',
      options: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
    });
    this.publisher.on('error', (error: Error) => this.logger.warn(`publisher: ${error.message}`));
  }

  async publish(event: KeyEvent): Promise<boolean> {
    try {
      await this.publisherReady();
      const message = JSON.stringify(event);
      if (this.sharded) await this.publisher.spublish(this.options.channel, message);
      else await this.publisher.publish(this.options.channel, message);
      return true;
    } catch (error) {
      const fallback =
        event.type === 'rate_limit_changed'
          ? 'other nodes see the new limit in the next tokens issued for the key'
          : 'other nodes pick it up at their next reconcile';
      this.logger.warn(
        `${event.type} of ${event.apiKeyId} not broadcast (${(error as Error).message}); ${fallback}`,
      );
      return false;
    }
  }

  /**
   * Without an offline queue a command fails at once unless the connection is ready; this waits a bounded time
   * for it while it is being (re)established, and lets the publish fail as before when Redis stays unreachable.
   */
  private async publisherReady(): Promise<void> {
    const publisher = this.publisher;
    if (publisher.status === 'ready' || publisher.status === 'end') return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        publisher.off('ready', done);
        publisher.off('end', done);
        resolve();
      };
      const timer = setTimeout(done, PUBLISH_READY_WAIT_MS);
      publisher.once('ready', done);
      publisher.once('end', done);
    });
  }

  async subscribe(handler: KeyEventHandler, onResync: () => void): Promise<void> {
    // Requests wait for the connection however long it takes (no per-request retry limit), so the SUBSCRIBE
    // below is sent as soon as Redis is reachable, and ioredis re-subscribes by itself after every reconnect.
    const subscriber = createRedisClient(this.connection, {
      connectionName: 'gatehouse-revocation-sub',
      options: { maxRetriesPerRequest: null },
      shardedSubscribers: this.sharded,
    });
    this.subscriber = subscriber;
    subscriber.on('error', (error: Error) => this.logger.warn(`subscriber: ${error.message}`));
    // Messages published while this node was not connected are gone: every (re)connection resyncs.
    subscriber.on('ready', onResync);
    subscriber.on(this.sharded ? 'smessage' : 'message', (channel: string, message: string) => {
      if (channel !== this.options.channel) return;
      const event = parseKeyEvent(message);
      if (event) handler(event);
      else this.logger.warn('ignored a malformed revocation message');
    });
    const subscribing = this.sharded
      ? subscriber.ssubscribe(this.options.channel)
      : subscriber.subscribe(this.options.channel);
    const subscribed = subscribing.then(
      () => true,
      (error: Error) => {
        this.logger.warn(`not subscribed (${error.message}); relying on reconcile`);
        return false;
      },
    );
    // Start-up waits briefly so that a healthy node hears broadcasts from its first request on, but never for
    // an unreachable Redis: the reconcile loop enforces revocations until the subscription comes through.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), SUBSCRIBE_WAIT_MS);
    });
    const ok = await Promise.race([subscribed, gaveUp]);
    clearTimeout(timer);
    if (!ok)
      this.logger.warn('Redis is not reachable yet; revocations are enforced by reconcile until it is');
  }

  /** The subscriber counts as down until subscribe() has made it. */
  override redisConnections(): RedisConnectionCheck[] {
    return [
      { client: 'revocation_publisher', connected: () => isRedisConnected(this.publisher) },
      {
        client: 'revocation_subscriber',
        connected: () => this.subscriber !== undefined && isRedisConnected(this.subscriber),
      },
    ];
  }

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber?.disconnect();
    await Promise.resolve();
  }
}
