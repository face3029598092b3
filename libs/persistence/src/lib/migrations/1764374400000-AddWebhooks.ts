import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks for key events (M10).
 * - `webhook_endpoints`: an organization's receivers, with their secret sealed (AES-256-GCM, key from config).
 * - `webhook_events`: the outbox, written in the transaction of the key change it reports, so that an event is
 *   stored exactly when the change is.
 * - `webhook_deliveries`: one per (endpoint, event), claimed by the delivery workers with SKIP LOCKED; pending
 *   until delivered or failed.
 * - `webhook_delivery_attempts`: every attempt and its outcome (the delivery log).
 * - `webhook_expiry_notices`: which key expiry each endpoint was told of, so `api_key.expiring` is sent once.
 * Plain DDL and core functions: it runs on the embedded PGlite too.
 */
export class AddWebhooks1764374400000 implements MigrationInterface {
  name = 'AddWebhooks1764374400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE webhook_endpoints (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        url varchar(2000) NOT NULL,
        description varchar(500) NOT NULL DEFAULT '',
        event_types text[] NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        expiring_within_days integer NOT NULL DEFAULT 7 CHECK (expiring_within_days BETWEEN 1 AND 365),
        secret_sealed bytea NOT NULL,
        created_at timestamptz NOT NULL,
        created_by varchar(200) NOT NULL,
        updated_at timestamptz NOT NULL,
        secret_rotated_at timestamptz NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX webhook_endpoints_org_created_idx ON webhook_endpoints (organization_id, created_at, id)`,
    );
    await queryRunner.query(`
      CREATE TABLE webhook_events (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        type varchar(64) NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY,
        endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        event_id uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
        status varchar(16) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        last_status_code integer NULL,
        last_error varchar(500) NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        completed_at timestamptz NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at, id)`,
    );
    await queryRunner.query(`CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id)`);
    await queryRunner.query(`
      CREATE TABLE webhook_delivery_attempts (
        delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        attempt integer NOT NULL,
        attempted_at timestamptz NOT NULL,
        status_code integer NULL,
        error varchar(500) NULL,
        duration_ms integer NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
      )`);
    await queryRunner.query(`
      CREATE TABLE webhook_expiry_notices (
        endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        api_key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (endpoint_id, api_key_id, expires_at)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE webhook_expiry_notices`);
    await queryRunner.query(`DROP TABLE webhook_delivery_attempts`);
    await queryRunner.query(`DROP TABLE webhook_deliveries`);
    await queryRunner.query(`DROP TABLE webhook_events`);
    await queryRunner.query(`DROP TABLE webhook_endpoints`);
  }
}
