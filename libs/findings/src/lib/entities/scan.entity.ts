import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ScanFormat, ScanStatus } from '../findings.constants';

export interface ScanTool {
  name: string;
  version: string | null;
}

export interface ScanError {
  code: string;
  message: string;
  details?: unknown;
}

/** One upload of findings: who sent it, what it says it scanned, and what it did to the organization's findings. */
@Entity({ name: 'scans' })
export class ScanEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId!: string;

  /** The uploading key, or null when a dashboard user uploaded (then `userId`). */
  @Column({ name: 'api_key_id', type: 'uuid', nullable: true })
  apiKeyId!: string | null;

  @Column({ name: 'client_id', type: 'varchar', length: 50, nullable: true })
  clientId!: string | null;

  @Column({ name: 'user_id', type: 'varchar', length: 200, nullable: true })
  userId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  status!: ScanStatus;

  /** Known once the body has been read. */
  @Column({ type: 'varchar', length: 8, nullable: true })
  format!: ScanFormat | null;

  @Column({ type: 'varchar', length: 500 })
  repository!: string;

  @Column({ type: 'varchar', length: 500 })
  ref!: string;

  @Column({ name: 'commit_sha', type: 'varchar', length: 200 })
  commitSha!: string;

  @Column({ type: 'jsonb' })
  tools!: ScanTool[];

  @Column({ type: 'integer' })
  results!: number;

  @Column({ name: 'new_count', type: 'integer' })
  newCount!: number;

  @Column({ name: 'unchanged_count', type: 'integer' })
  unchangedCount!: number;

  @Column({ name: 'fixed_count', type: 'integer' })
  fixedCount!: number;

  @Column({ name: 'reopened_count', type: 'integer' })
  reopenedCount!: number;

  @Column({ name: 'received_bytes', type: 'integer' })
  receivedBytes!: number;

  /** Processing attempts of a stored upload; after SCAN_MAX_ATTEMPTS it fails. */
  @Column({ type: 'integer' })
  attempts!: number;

  @Column({ type: 'jsonb', nullable: true })
  error!: ScanError | null;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt!: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;
}
