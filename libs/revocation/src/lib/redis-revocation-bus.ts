import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import type { RevocationEvent } from '@gatehouse/contracts';
import { parseRevocationEvent, RevocationBus, type RevocationHandler } from './revocation-bus';

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
      await this.publisher.publish(this.options.channel, JSON.stringify(event));
      return true;
    } catch (error) {
      this.logger.warn(
        `revocation of ${event.apiKeyId} not broadcast (${(error as Error).message}); ` +
          'other nodes pick it up at their next reconcile',
      );
      return false;
    }
  }

  async subscribe(handler: RevocationHandler, onResync: () => void): Promise<void> {
    const subscriber = new Redis(this.options.url, { connectionName: 'gatehouse-revocation-sub' });
    this.subscriber = subscriber;
    let connectedBefore = false;
    subscriber.on('error', (error: Error) => this.logger.warn(`subscriber: ${error.message}`));
    subscriber.on('ready', () => {
      // ioredis re-subscribes by itself after a reconnect; messages sent meanwhile are gone, hence the resync.
      if (connectedBefore) onResync();
      connectedBefore = true;
    });
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.options.channel) return;
      const event = parseRevocationEvent(message);
      if (event) handler(event);
      else this.logger.warn('ignored a malformed revocation message');
    });
    try {
      await subscriber.subscribe(this.options.channel);
    } catch (error) {
      // Start-up does not wait for Redis: the reconcile loop keeps revocations enforced until it is back.
      this.logger.warn(
        `not subscribed yet (${(error as Error).message}); relying on reconcile until Redis is back`,
      );
    }
  }

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber?.disconnect();
    await Promise.resolve();
  }
}
