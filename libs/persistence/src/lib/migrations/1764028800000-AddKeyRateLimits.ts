import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-key overrides of the organization plan's rate limit. NULL in both columns means the plan's limit applies;
 * a half-set override has no meaning, so the constraint refuses it (and refuses values no limiter could use).
 * The IS NOT NULL tests are needed: a CHECK whose expression is NULL passes.
 * Plain DDL: nothing beyond core PostgreSQL, so it runs on the embedded PGlite too.
 */
export class AddKeyRateLimits1764028800000 implements MigrationInterface {
  name = 'AddKeyRateLimits1764028800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE api_keys
        ADD COLUMN rate_limit_per_minute integer NULL,
        ADD COLUMN rate_limit_burst integer NULL,
        ADD CONSTRAINT api_keys_rate_limit_override CHECK (
          (rate_limit_per_minute IS NULL AND rate_limit_burst IS NULL)
          OR (rate_limit_per_minute IS NOT NULL AND rate_limit_burst IS NOT NULL
              AND rate_limit_per_minute >= 1 AND rate_limit_burst >= 0)
        )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE api_keys
        DROP CONSTRAINT api_keys_rate_limit_override,
        DROP COLUMN rate_limit_burst,
        DROP COLUMN rate_limit_per_minute`);
  }
}
