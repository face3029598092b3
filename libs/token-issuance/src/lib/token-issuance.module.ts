import {
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '@gatehouse/contracts';
import { TokenSigner, type SigningKey } from '@gatehouse/crypto';
import { KEY_CACHE_TTL_MS, RevocationRegistry } from '@gatehouse/revocation';
import { ApiKeyCache } from './api-key-cache';
import { ACTIVE_SIGNING_KEY, PublishedKeys, signingKeyProviders } from './signing-key.provider';
import { TokenIssuanceService } from './token-issuance.service';
import { TOKEN_ISSUANCE_OPTIONS, type TokenIssuanceOptions } from './token-issuance-options';
import { UsageLog } from './usage-log';
import { UsageRecorder } from './usage-recorder';

@Injectable()
class TokenIssuanceLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly cache: ApiKeyCache,
    private readonly usage: UsageRecorder,
    private readonly usageLog: UsageLog,
    private readonly revocations: RevocationRegistry,
  ) {}

  onModuleInit(): void {
    this.revocations.onRevoked((apiKeyId) => this.cache.evict(apiKeyId));
    // The next token of the key reads its new limit from PostgreSQL instead of the cached old one.
    this.revocations.onRateLimitChanged((event) => this.cache.evict(event.apiKeyId));
    this.usage.start();
    this.usageLog.start();
  }

  /** Batched last-used writes are flushed before the process exits. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.usage.stop(), this.usageLog.stop()]);
  }
}

@Module({})
export class TokenIssuanceModule {
  static forRoot(options: TokenIssuanceOptions): DynamicModule {
    return {
      module: TokenIssuanceModule,
      providers: [
        { provide: TOKEN_ISSUANCE_OPTIONS, useValue: options },
        ...signingKeyProviders,
        {
          provide: TokenSigner,
          inject: [ACTIVE_SIGNING_KEY],
          useFactory: (key: SigningKey) =>
            new TokenSigner(key, { issuer: options.issuer, audience: options.audience }),
        },
        { provide: ApiKeyCache, useFactory: () => new ApiKeyCache(KEY_CACHE_TTL_MS) },
        {
          provide: UsageRecorder,
          inject: [DataSource],
          useFactory: (dataSource: DataSource) => new UsageRecorder(dataSource, options.usageFlushIntervalMs),
        },
        {
          provide: UsageLog,
          inject: [DataSource, CLOCK],
          useFactory: (dataSource: DataSource, clock: Clock) =>
            new UsageLog(dataSource, clock, {
              flushIntervalMs: options.usageFlushIntervalMs,
              retentionDays: options.usageRetentionDays,
              maxPending: 10_000,
            }),
        },
        TokenIssuanceService,
        TokenIssuanceLifecycle,
      ],
      exports: [TokenIssuanceService, PublishedKeys],
    };
  }
}
