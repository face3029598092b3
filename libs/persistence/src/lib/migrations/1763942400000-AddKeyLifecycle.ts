import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two-step rotation (the previous secret and when it retires), the per-key usage log and the audit trail.
 */
export class AddKeyLifecycle1763942400000 implements MigrationInterface {
  name = 'AddKeyLifecycle1763942400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE api_keys
        ADD COLUMN key_version integer NOT NULL DEFAULT 1,
        ADD COLUMN previous_key_hash bytea NULL,
        ADD COLUMN previous_key_last4 varchar(4) NULL,
        ADD COLUMN previous_retires_at timestamptz NULL,
        ADD COLUMN rotated_at timestamptz NULL`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX api_keys_previous_key_hash_uq ON api_keys (previous_key_hash) WHERE previous_key_hash IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX api_keys_previous_retires_at_idx ON api_keys (previous_retires_at) WHERE previous_retires_at IS NOT NULL`,
    );
    await queryRunner.query(`
      CREATE TABLE api_key_usage (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        api_key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
        occurred_at timestamptz NOT NULL,
        outcome varchar(40) NOT NULL,
        ip varchar(64) NULL,
        user_agent varchar(512) NULL,
        request_id varchar(128) NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX api_key_usage_key_idx ON api_key_usage (api_key_id, occurred_at DESC, id DESC)`,
    );
    await queryRunner.query(`CREATE INDEX api_key_usage_occurred_at_idx ON api_key_usage (occurred_at)`);
    await queryRunner.query(`
      CREATE TABLE audit_events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        occurred_at timestamptz NOT NULL,
        actor_type varchar(16) NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
        actor varchar(200) NOT NULL,
        action varchar(64) NOT NULL,
        target_type varchar(32) NOT NULL,
        target_id varchar(100) NULL,
        ip varchar(64) NULL,
        request_id varchar(128) NULL,
        details jsonb NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX audit_events_org_idx ON audit_events (organization_id, occurred_at DESC, id DESC)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_events`);
    await queryRunner.query(`DROP TABLE api_key_usage`);
    await queryRunner.query(`DROP INDEX api_keys_previous_retires_at_idx`);
    await queryRunner.query(`DROP INDEX api_keys_previous_key_hash_uq`);
    await queryRunner.query(`
      ALTER TABLE api_keys
        DROP COLUMN rotated_at,
        DROP COLUMN previous_retires_at,
        DROP COLUMN previous_key_last4,
        DROP COLUMN previous_key_hash,
        DROP COLUMN key_version`);
  }
}
