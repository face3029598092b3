import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One authentication attempt with a known key, successful or not. Written in batches by auth-service. */
@Entity({ name: 'api_key_usage' })
export class ApiKeyUsageEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId!: string;

  @Column({ name: 'api_key_id', type: 'uuid' })
  apiKeyId!: string;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt!: Date;

  /** `success` or the error code the attempt was refused with. */
  @Column({ type: 'varchar', length: 40 })
  outcome!: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip!: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent!: string | null;

  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;
}
