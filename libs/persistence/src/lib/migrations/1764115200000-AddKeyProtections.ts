import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Key protections: a reversible disable (`disabled_at`, NULL while enabled) and a per-key IP allowlist
 * (`allowed_ips`, normalized CIDRs, empty for no restriction; at most 100, as the API allows). Every node reads the
 * disabled keys at each revocation reconcile, so they get a small partial index of their own.
 * Plain DDL: nothing beyond core PostgreSQL, so it runs on the embedded PGlite too.
 */
export class AddKeyProtections1764115200000 implements MigrationInterface {
  name = 'AddKeyProtections1764115200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE api_keys
        ADD COLUMN disabled_at timestamptz NULL,
        ADD COLUMN allowed_ips text[] NOT NULL DEFAULT '{}',
        ADD CONSTRAINT api_keys_allowed_ips_max CHECK (cardinality(allowed_ips) <= 100)`);
    await queryRunner.query(`
      CREATE INDEX api_keys_disabled_idx ON api_keys (id)
        WHERE disabled_at IS NOT NULL AND revoked_at IS NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX api_keys_disabled_idx`);
    await queryRunner.query(`
      ALTER TABLE api_keys
        DROP CONSTRAINT api_keys_allowed_ips_max,
        DROP COLUMN allowed_ips,
        DROP COLUMN disabled_at`);
  }
}
