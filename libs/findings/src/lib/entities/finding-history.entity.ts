import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { FindingEvent } from '../findings.constants';

/** What one scan did to one finding: reported it first (`new`), again (`seen`), again after a fix, or fixed it. */
@Entity({ name: 'finding_history' })
export class FindingHistoryEntity {
  @PrimaryColumn({ name: 'finding_id', type: 'uuid' })
  findingId!: string;

  @PrimaryColumn({ name: 'scan_id', type: 'uuid' })
  scanId!: string;

  @Column({ type: 'varchar', length: 10 })
  event!: FindingEvent;

  @Column({ type: 'timestamptz' })
  at!: Date;
}
