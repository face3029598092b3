import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { FindingState, Severity } from '../findings.constants';
import { FindingRuleEntity } from './finding-rule.entity';

export interface FindingLocation {
  path: string;
  start_line?: number;
  end_line?: number;
  start_column?: number;
}

/**
 * One finding of an organization, unique per (repository, ref, identity): every scan of that stream that reports
 * it again updates this row instead of adding one.
 */
@Entity({ name: 'findings' })
export class FindingEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId!: string;

  /** '' when the upload named none. */
  @Column({ type: 'varchar', length: 500 })
  repository!: string;

  @Column({ type: 'varchar', length: 500 })
  ref!: string;

  /** sha256 hex of the identity tuple (see ingest/identity.ts). */
  @Column({ type: 'varchar', length: 64 })
  identity!: string;

  @Column({ name: 'identity_source', type: 'varchar', length: 20 })
  identitySource!: string;

  /** The key whose upload first reported it; null when a dashboard user uploaded it. */
  @Column({ name: 'api_key_id', type: 'uuid', nullable: true })
  apiKeyId!: string | null;

  @Column({ name: 'client_id', type: 'varchar', length: 50, nullable: true })
  clientId!: string | null;

  @Column({ type: 'varchar', length: 200 })
  tool!: string;

  @Column({ name: 'rule_id', type: 'varchar', length: 200 })
  ruleId!: string;

  /** The rule's name and help, when its scanner described it (loaded on demand). */
  @ManyToOne(() => FindingRuleEntity, { createForeignKeyConstraints: false, nullable: true })
  @JoinColumn([
    { name: 'organization_id', referencedColumnName: 'organizationId' },
    { name: 'tool', referencedColumnName: 'tool' },
    { name: 'rule_id', referencedColumnName: 'ruleId' },
  ])
  rule?: FindingRuleEntity | null;

  @Column({ type: 'text', array: true })
  tags!: string[];

  @Column({ type: 'text', array: true })
  cwe!: string[];

  @Column({ type: 'varchar', length: 500 })
  title!: string;

  @Column({ type: 'varchar', length: 16 })
  severity!: Severity;

  @Column({ type: 'jsonb', nullable: true })
  location!: FindingLocation | null;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  fingerprint!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  metadata!: Record<string, unknown> | null;

  @Column({ type: 'varchar', length: 8 })
  state!: FindingState;

  /** How many scans reported it. */
  @Column({ type: 'integer' })
  occurrences!: number;

  @Column({ name: 'first_scan_id', type: 'uuid', nullable: true })
  firstScanId!: string | null;

  @Column({ name: 'last_scan_id', type: 'uuid', nullable: true })
  lastScanId!: string | null;

  @Column({ name: 'fixed_scan_id', type: 'uuid', nullable: true })
  fixedScanId!: string | null;

  @Column({ name: 'first_seen_at', type: 'timestamptz' })
  firstSeenAt!: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt!: Date;

  @Column({ name: 'fixed_at', type: 'timestamptz', nullable: true })
  fixedAt!: Date | null;
}
