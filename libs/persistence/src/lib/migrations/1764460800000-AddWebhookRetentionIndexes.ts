import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The hourly retention pass of the webhook delivery worker (WEBHOOK_DELIVERY_RETENTION_DAYS) looks for ended
 * deliveries by when they ended, and for events by when they were written: one index each, so that each batch is
 * a range scan instead of a walk through every delivery. Partial on ended deliveries: pending ones are never
 * deleted, and the claim has its own index. Plain DDL: it runs on the embedded PGlite too.
 */
export class AddWebhookRetentionIndexes1764460800000 implements MigrationInterface {
  name = 'AddWebhookRetentionIndexes1764460800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX webhook_deliveries_completed_idx ON webhook_deliveries (completed_at)
        WHERE status IN ('delivered', 'failed')`,
    );
    await queryRunner.query(`CREATE INDEX webhook_events_created_idx ON webhook_events (created_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX webhook_events_created_idx`);
    await queryRunner.query(`DROP INDEX webhook_deliveries_completed_idx`);
  }
}
