import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a dashboard needs of a key beyond its name: a free-text `description` (NULL when none, at most 500
 * characters) and `metadata`, a flat JSON object of string values (empty when none; the API holds it to 20 entries,
 * the CHECK only to an object, so that a later, larger limit needs no migration).
 * The list sorts by name and by last use besides creation, newest or oldest first, always within one organization
 * and with the id as tie-breaker: one index per sort keeps every page a range scan. Plain DDL: nothing beyond core
 * PostgreSQL, so it runs on the embedded PGlite too.
 */
export class AddKeyDescriptionMetadata1764288000000 implements MigrationInterface {
  name = 'AddKeyDescriptionMetadata1764288000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE api_keys
        ADD COLUMN description varchar(500) NULL,
        ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}',
        ADD CONSTRAINT api_keys_metadata_object CHECK (jsonb_typeof(metadata) = 'object')`);
    await queryRunner.query(`CREATE INDEX api_keys_org_name_idx ON api_keys (organization_id, name, id)`);
    await queryRunner.query(
      `CREATE INDEX api_keys_org_last_used_idx ON api_keys (organization_id, last_used_at, id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX api_keys_org_last_used_idx`);
    await queryRunner.query(`DROP INDEX api_keys_org_name_idx`);
    await queryRunner.query(`
      ALTER TABLE api_keys
        DROP CONSTRAINT api_keys_metadata_object,
        DROP COLUMN metadata,
        DROP COLUMN description`);
  }
}
