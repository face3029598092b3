import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import type { RevocationEvent } from '@gatehouse/contracts';
import { parseRevocationEvent, RevocationBus, type RevocationHandler } from './revocation-bus';

/** Longest start-up waits for the revocation subscription before going on without it. */
const SUBSCRIBE_WAIT_MS = 500;
/**
 * Longest a publish waits for the publisher's connection to come up (at start-up, or after Redis dropped it): a
 * revocation made in that moment is still broadcast at once instead of waiting for the other nodes' reconcile.
 */
const PUBLISH_READY_WAIT_MS = 500;

export interface RedisRevocationBusOptions {
  url: string;
  channel: string;
}

export class RedisRevocationBus extends RevocationBus {
  private readonly logger = new Logger(RedisRevocationBus.name);
  private readonly publisher: Redis;
  private subscriber: Redis | undefined;

  constructor(private readonly options: RedisRevocationBusOptions) {
    super();
    // No offline queue: while Redis is down a publish fails at once instead of piling up in memory.
    this.publisher = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectionName: 'gatehouse-revocation-pub',
    });
    this.publisher.on('error', (error: Error) => this.logger.warn(`publisher: ${error.message}`));
  }

  async publish(event: RevocationEvent): Promise<boolean> {
    try {
      await this.publisherReady();
      await this.publisher.publish(this.options.channel, JSON.stringify(event));
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

  async subscribe(handler: RevocationHandler, onResync: () => void): Promise<void> {
    // Requests wait for the connection however long it takes (no per-request retry limit), so the SUBSCRIBE
    // below is sent as soon as Redis is reachable, and ioredis re-subscribes by itself after every reconnect.
    const subscriber = new Redis(this.options.url, {
      connectionName: 'gatehouse-revocation-sub',
      maxRetriesPerRequest: null,
    });
    this.subscriber = subscriber;
    subscriber.on('error', (error: Error) => this.logger.warn(`subscriber: ${error.message}`));
    // Messages published while this node was not connected are gone: every (re)connection resyncs.
    subscriber.on('ready', onResync);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.options.channel) return;
      const event = parseRevocationEvent(message);
      if (event) handler(event);
      else this.logger.warn('ignored a malformed revocation message');
    });
    const subscribed = subscriber.subscribe(this.options.channel).then(
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

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber?.disconnect();
    await Promise.resolve();
  }
}
