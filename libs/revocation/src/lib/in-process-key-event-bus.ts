import { Logger } from '@nestjs/common';
import type { KeyEvent } from '@gatehouse/contracts';
import { parseKeyEvent, KeyEventBus, type KeyEventHandler } from './key-event-bus';

type Subscriber = (message: string) => void;

// Every app's bundle carries its own copy of this library; the channels live on globalThis so that all the apps
// of one process (the standalone suite) share them.
const CHANNELS = Symbol.for('gatehouse.revocation.in-process-channels');
const processChannels = globalThis as { [CHANNELS]?: Map<string, Set<Subscriber>> };

function channels(): Map<string, Set<Subscriber>> {
  processChannels[CHANNELS] ??= new Map();
  return processChannels[CHANNELS];
}

export interface InProcessKeyEventBusOptions {
  channel: string;
}

/**
 * The key-event bus between apps that run in one process (standalone mode), in place of Redis pub/sub: a publish
 * reaches every subscriber of the channel in this process, its own included, before `publish` resolves. Messages
 * travel as the same JSON as on Redis and are parsed the same way, so subscribers never share an object.
 */
export class InProcessKeyEventBus extends KeyEventBus {
  private readonly logger = new Logger(InProcessKeyEventBus.name);
  private subscriber: Subscriber | undefined;

  constructor(private readonly options: InProcessKeyEventBusOptions) {
    super();
  }

  publish(event: KeyEvent): Promise<boolean> {
    const message = JSON.stringify(event);
    for (const subscriber of [...(channels().get(this.options.channel) ?? [])]) {
      try {
        subscriber(message);
      } catch (error) {
        this.logger.warn(`a revocation subscriber failed: ${(error as Error).message}`);
      }
    }
    return Promise.resolve(true);
  }

  /** Nothing is ever missed in-process, so `onResync` is not needed: the caller's initial load suffices. */
  subscribe(handler: KeyEventHandler, _onResync: () => void): Promise<void> {
    if (this.subscriber) return Promise.reject(new Error('this key-event bus is subscribed already'));
    this.subscriber = (message: string) => {
      const event = parseKeyEvent(message);
      if (event) handler(event);
      else this.logger.warn('ignored a malformed revocation message');
    };
    const subscribers = channels().get(this.options.channel) ?? new Set<Subscriber>();
    subscribers.add(this.subscriber);
    channels().set(this.options.channel, subscribers);
    return Promise.resolve();
  }

  close(): Promise<void> {
    const subscribers = channels().get(this.options.channel);
    if (this.subscriber && subscribers) {
      subscribers.delete(this.subscriber);
      if (subscribers.size === 0) channels().delete(this.options.channel);
    }
    this.subscriber = undefined;
    return Promise.resolve();
  }
}
