import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { Permission, RateLimit } from '@gatehouse/contracts';

export type ApiKeyEnvironmentColumn = 'live' | 'test';

@Entity({ name: 'api_keys' })
@Index('api_keys_org_created_idx', ['organizationId', 'createdAt', 'id'])
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'organization_id', type: 'uuid' })
  organizationId!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ name: 'client_id', type: 'varchar', length: 50 })
  clientId!: string;

  @Column({ type: 'text', array: true })
  permissions!: Permission[];

  @Column({ type: 'varchar', length: 8 })
  environment!: ApiKeyEnvironmentColumn;

  /** SHA-256 of the secret; erased (NULL) when the key is deleted. */
  @Column({ name: 'key_hash', type: 'bytea', nullable: true })
  keyHash!: Buffer | null;

  @Column({ name: 'key_prefix', type: 'varchar', length: 16 })
  keyPrefix!: string;

  @Column({ name: 'key_last4', type: 'varchar', length: 4 })
  keyLast4!: string;

  @Column({ name: 'created_by', type: 'varchar', length: 200 })
  createdBy!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @Column({ name: 'last_used_ip', type: 'varchar', length: 64, nullable: true })
  lastUsedIp!: string | null;

  /** Version of the current secret; every rotation adds one. Tokens carry it as `key_version`. */
  @Column({ name: 'key_version', type: 'integer', default: 1 })
  keyVersion!: number;

  /** During a rotation, the SHA-256 of the secret being replaced; NULL otherwise. */
  @Column({ name: 'previous_key_hash', type: 'bytea', nullable: true })
  previousKeyHash!: Buffer | null;

  @Column({ name: 'previous_key_last4', type: 'varchar', length: 4, nullable: true })
  previousKeyLast4!: string | null;

  /** When the previous secret (and tokens issued from it) stops working: the end of the grace period. */
  @Column({ name: 'previous_retires_at', type: 'timestamptz', nullable: true })
  previousRetiresAt!: Date | null;

  @Column({ name: 'rotated_at', type: 'timestamptz', nullable: true })
  rotatedAt!: Date | null;

  /**
   * An admin's override of the organization plan's rate limit for this key. Both NULL (the plan's limit applies)
   * or both set: a CHECK constraint holds them together.
   */
  @Column({ name: 'rate_limit_per_minute', type: 'integer', nullable: true })
  rateLimitPerMinute!: number | null;

  @Column({ name: 'rate_limit_burst', type: 'integer', nullable: true })
  rateLimitBurst!: number | null;

  /** Set while the key is disabled: it cannot authenticate and its tokens are refused. NULL when enabled. */
  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt!: Date | null;

  /** Normalized CIDRs the key may be used from; empty for no restriction. */
  @Column({ name: 'allowed_ips', type: 'text', array: true, default: () => "'{}'" })
  allowedIps!: string[];

  /** Free text for people, at most 500 characters; NULL when none. */
  @Column({ type: 'varchar', length: 500, nullable: true })
  description!: string | null;

  /** A flat object of string values set through the API (limits in ApiKeyMetadata); empty when none. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata!: Record<string, string>;
}

/** The key's own rate limit override, or null when its organization plan's limit applies. */
export function rateLimitOverrideOf(
  key: Pick<ApiKeyEntity, 'rateLimitPerMinute' | 'rateLimitBurst'>,
): RateLimit | null {
  // The columns are set and cleared together (a CHECK constraint); one without the other is no override.
  if (key.rateLimitPerMinute === null || key.rateLimitBurst === null) return null;
  return { requests_per_minute: key.rateLimitPerMinute, burst: key.rateLimitBurst };
}
