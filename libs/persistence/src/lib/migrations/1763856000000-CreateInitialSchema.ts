import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Organizations, API keys (hash only) and findings. gen_random_uuid() is core PostgreSQL since 13. */
export class CreateInitialSchema1763856000000 implements MigrationInterface {
  name = 'CreateInitialSchema1763856000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE organizations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(40) NOT NULL,
        plan varchar(16) NOT NULL CHECK (plan IN ('starter', 'pro', 'enterprise')),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT organizations_name_uq UNIQUE (name)
      )`);
    await queryRunner.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        name varchar(100) NOT NULL,
        client_id varchar(50) NOT NULL,
        permissions text[] NOT NULL,
        environment varchar(8) NOT NULL CHECK (environment IN ('live', 'test')),
        key_hash bytea NULL,
        key_prefix varchar(16) NOT NULL,
        key_last4 varchar(4) NOT NULL,
        created_by varchar(200) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NULL,
        revoked_at timestamptz NULL,
        deleted_at timestamptz NULL,
        last_used_at timestamptz NULL,
        last_used_ip varchar(64) NULL,
        CONSTRAINT api_keys_deleted_is_revoked CHECK (deleted_at IS NULL OR (revoked_at IS NOT NULL AND key_hash IS NULL))
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX api_keys_key_hash_uq ON api_keys (key_hash) WHERE key_hash IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX api_keys_org_client_id_uq ON api_keys (organization_id, client_id) WHERE deleted_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX api_keys_org_created_idx ON api_keys (organization_id, created_at, id)`,
    );
    await queryRunner.query(
      `CREATE INDEX api_keys_revoked_at_idx ON api_keys (revoked_at) WHERE revoked_at IS NOT NULL`,
    );
    await queryRunner.query(`
      CREATE TABLE findings (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        api_key_id uuid NOT NULL REFERENCES api_keys (id),
        client_id varchar(50) NOT NULL,
        rule_id varchar(200) NOT NULL,
        title varchar(500) NOT NULL,
        severity varchar(16) NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
        location jsonb NOT NULL,
        description text NULL,
        tool varchar(100) NULL,
        fingerprint varchar(200) NULL,
        metadata jsonb NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX findings_org_created_idx ON findings (organization_id, created_at, id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE findings`);
    await queryRunner.query(`DROP TABLE api_keys`);
    await queryRunner.query(`DROP TABLE organizations`);
  }
}
