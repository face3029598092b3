import type { RedisConnection } from '@gatehouse/config';
import {
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import { IsNull, MoreThan, Not, type Repository } from 'typeorm';
import { ACCESS_TOKEN_TTL_SECONDS, CLOCK, systemClock, type Clock } from '@gatehouse/contracts';
import { ReadinessRegistry } from '@gatehouse/http';
import { ApiKeyEntity } from '@gatehouse/persistence';
import { InProcessKeyEventBus } from './in-process-key-event-bus';
import { RedisKeyEventBus } from './redis-key-event-bus';
import { KeyEventBus } from './key-event-bus';
import { RevocationRegistry, type RevocationSource } from './revocation-registry';

/** Redis pub/sub between processes, or an in-process channel between apps that share one process. */
export type KeyEventTransport = 'redis' | 'in-process';

export interface RevocationModuleOptions {
  /** The app's KEY_EVENTS_BUS: `in-process` only where every app runs in this one process (the standalone suite). */
  transport: KeyEventTransport;
  /** Required with the Redis transport: a `redis://` URL, or the connection REDIS_MODE chose. */
  redis?: string | RedisConnection;
  channel: string;
  reconcileIntervalMs: number;
  clockToleranceSeconds: number;
}

/** Longest a cached key record may outlive its revocation on an auth-service node. */
export const KEY_CACHE_TTL_MS = 30_000;

export function createPostgresRevocationSource(repository: Repository<ApiKeyEntity>): RevocationSource {
  return {
    async revokedSince(since: Date) {
      const rows = await repository.find({
        select: { id: true, revokedAt: true },
        where: { revokedAt: MoreThan(since) },
      });
      return rows.map((row) => ({ apiKeyId: row.id, revokedAt: row.revokedAt as Date }));
    },
    async retiredSince(since: Date) {
      const rows = await repository.find({
        select: { id: true, keyVersion: true, previousRetiresAt: true },
        // Retirements still ahead (a grace period running) or recent enough for its tokens to be alive.
        where: { previousRetiresAt: MoreThan(since) },
      });
      return rows.map((row) => ({
        apiKeyId: row.id,
        currentVersion: row.keyVersion,
        retiredAt: row.previousRetiresAt as Date,
      }));
    },
    async disabledKeys() {
      // Every disabled key, however old the disable: it lasts until someone enables the key.
      const rows = await repository.find({
        select: { id: true, disabledAt: true },
        where: { disabledAt: Not(IsNull()), revokedAt: IsNull() },
      });
      return rows.map((row) => ({ apiKeyId: row.id, disabledAt: row.disabledAt as Date }));
    },
  };
}

/** The bus KEY_EVENTS_BUS names. */
export function createKeyEventBus(options: RevocationModuleOptions): KeyEventBus {
  switch (options.transport) {
    case 'in-process':
      return new InProcessKeyEventBus({ channel: options.channel });
    case 'redis':
      if (!options.redis) throw new Error('the Redis key-event bus needs a Redis connection');
      return new RedisKeyEventBus({ redis: options.redis, channel: options.channel });
  }
}

@Injectable()
class RevocationLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly registry: RevocationRegistry,
    private readonly readiness: ReadinessRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    this.readiness.register('revocations', async () => {
      if (!this.registry.ready) throw new Error('revocation set not loaded from PostgreSQL yet');
      await Promise.resolve();
    });
    await this.registry.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.registry.stop();
  }
}

@Module({})
export class RevocationModule {
  static forRoot(options: RevocationModuleOptions): DynamicModule {
    return {
      module: RevocationModule,
      global: true,
      providers: [
        RevocationLifecycle,
        { provide: CLOCK, useValue: systemClock },
        { provide: KeyEventBus, useFactory: () => createKeyEventBus(options) },
        {
          provide: RevocationRegistry,
          inject: [getRepositoryToken(ApiKeyEntity), KeyEventBus, CLOCK],
          useFactory: (repository: Repository<ApiKeyEntity>, bus: KeyEventBus, clock: Clock) =>
            new RevocationRegistry(createPostgresRevocationSource(repository), bus, clock, {
              reconcileIntervalMs: options.reconcileIntervalMs,
              retentionMs:
                (ACCESS_TOKEN_TTL_SECONDS + options.clockToleranceSeconds) * 1000 + KEY_CACHE_TTL_MS + 60_000,
            }),
        },
      ],
      exports: [RevocationRegistry, KeyEventBus, CLOCK],
    };
  }
}
