import { Column, Entity, PrimaryColumn } from 'typeorm';

/** What a scanner says about one of its rules, kept once per organization rather than on every finding. */
@Entity({ name: 'finding_rules' })
export class FindingRuleEntity {
  @PrimaryColumn({ name: 'organization_id', type: 'uuid' })
  organizationId!: string;

  @PrimaryColumn({ type: 'varchar', length: 200 })
  tool!: string;

  @PrimaryColumn({ name: 'rule_id', type: 'varchar', length: 200 })
  ruleId!: string;

  @Column({ type: 'varchar', length: 500, nullable: true })
  name!: string | null;

  @Column({ type: 'text', nullable: true })
  help!: string | null;

  @Column({ name: 'help_uri', type: 'varchar', length: 2000, nullable: true })
  helpUri!: string | null;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
