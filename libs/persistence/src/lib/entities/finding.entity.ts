import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface FindingLocation {
  path: string;
  start_line?: number;
  end_line?: number;
}

@Entity({ name: 'findings' })
export class FindingEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId!: string;

  @Column({ name: 'api_key_id', type: 'uuid' })
  apiKeyId!: string;

  @Column({ name: 'client_id', type: 'varchar', length: 50 })
  clientId!: string;

  @Column({ name: 'rule_id', type: 'varchar', length: 200 })
  ruleId!: string;

  @Column({ type: 'varchar', length: 500 })
  title!: string;

  @Column({ type: 'varchar', length: 16 })
  severity!: Severity;

  @Column({ type: 'jsonb' })
  location!: FindingLocation;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'varchar', length: 100, nullable: true })
  tool!: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  fingerprint!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  metadata!: Record<string, unknown> | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
