import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CLOCK, systemClock } from '@gatehouse/contracts';
import { FindingHistoryEntity } from './entities/finding-history.entity';
import { FindingRuleEntity } from './entities/finding-rule.entity';
import { FindingEntity } from './entities/finding.entity';
import { ScanEntity } from './entities/scan.entity';
import { FindingsQueryService } from './findings-query.service';
import { FINDINGS_OPTIONS, type FindingsOptions } from './findings.options';
import { ScanIngestService } from './scan-ingest.service';
import { ScanWorker } from './scan-worker.service';

export const FINDINGS_ENTITIES = [FindingEntity, FindingRuleEntity, ScanEntity, FindingHistoryEntity];

/** The findings slice: uploads, their processing, and the read side. Needs PersistenceModule. */
@Module({})
export class FindingsModule {
  static forRoot(options: FindingsOptions): DynamicModule {
    return {
      module: FindingsModule,
      imports: [TypeOrmModule.forFeature(FINDINGS_ENTITIES)],
      providers: [
        { provide: FINDINGS_OPTIONS, useValue: options },
        { provide: CLOCK, useValue: systemClock },
        ScanIngestService,
        ScanWorker,
        FindingsQueryService,
      ],
      exports: [ScanIngestService, ScanWorker, FindingsQueryService],
    };
  }
}
