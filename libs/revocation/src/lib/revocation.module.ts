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
import { ApiKeyEntity, hostedEmbeddedDatabase } from '@gatehouse/persistence';
import { InProcessRevocationBus } from './in-process-revocation-bus';
import { RedisRevocationBus } from './redis-revocation-bus';
import { RevocationBus } from './revocation-bus';
import { RevocationRegistry, type RevocationSource } from './revocation-registry';

/** Redis pub/sub between processes, or an in-process channel between apps that share one process. */
export type RevocationTransport = 'redis' | 'in-process';

export interface RevocationModuleOptions {
  /**
   * Unset: in-process when this process hosts the embedded database (the standalone suite, where every app runs
   * in one process), Redis otherwise.
   */
  transport?: RevocationTransport;
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

export function resolveRevocationTransport(options: RevocationModuleOptions): RevocationTransport {
  return options.transport ?? (hostedEmbeddedDatabase() ? 'in-process' : 'redis');
}

function createRevocationBus(options: RevocationModuleOptions): RevocationBus {
  const transport = resolveRevocationTransport(options);
  switch (transport) {
    case 'in-process':
      return new InProcessRevocationBus({ channel: options.channel });
    case 'redis':
      if (!options.redis) throw new Error('the Redis revocation bus needs a Redis connection');
      return new RedisRevocationBus({ redis: options.redis, channel: options.channel });
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
        { provide: RevocationBus, useFactory: () => createRevocationBus(options) },
        {
          provide: RevocationRegistry,
          inject: [getRepositoryToken(ApiKeyEntity), RevocationBus, CLOCK],
          useFactory: (repository: Repository<ApiKeyEntity>, bus: RevocationBus, clock: Clock) =>
            new RevocationRegistry(createPostgresRevocationSource(repository), bus, clock, {
              reconcileIntervalMs: options.reconcileIntervalMs,
              retentionMs:
                (ACCESS_TOKEN_TTL_SECONDS + options.clockToleranceSeconds) * 1000 + KEY_CACHE_TTL_MS + 60_000,
            }),
        },
      ],
      exports: [RevocationRegistry, RevocationBus, CLOCK],
    };
  }
}
