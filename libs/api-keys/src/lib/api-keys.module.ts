import { Module, type DynamicModule } from '@nestjs/common';
import { WebhookOutbox } from '@gatehouse/webhooks';
import { ApiKeysService, API_KEYS_OPTIONS, type ApiKeysOptions } from './api-keys.service';
import { AuditService } from './audit.service';
import { LeakedKeyReportGuard } from './leaked-key-report.guard';
import { LEAKED_KEY_REPORTER_KEYS, LeakedKeyReporters, type ReporterPublicKey } from './leaked-key-reporters';
import { LeakedKeysService } from './leaked-keys.service';
import { MeService } from './me.service';

@Module({})
export class ApiKeysModule {
  /** `reporterKeys`: whose leaked-key reports are believed (none by default: every report is refused). */
  static forRoot(options: ApiKeysOptions, reporterKeys: readonly ReporterPublicKey[] = []): DynamicModule {
    return {
      module: ApiKeysModule,
      providers: [
        { provide: API_KEYS_OPTIONS, useValue: options },
        { provide: LEAKED_KEY_REPORTER_KEYS, useValue: reporterKeys },
        ApiKeysService,
        AuditService,
        LeakedKeyReporters,
        LeakedKeyReportGuard,
        LeakedKeysService,
        MeService,
        WebhookOutbox,
      ],
      exports: [
        ApiKeysService,
        AuditService,
        LeakedKeyReporters,
        LeakedKeyReportGuard,
        LeakedKeysService,
        MeService,
      ],
    };
  }
}
