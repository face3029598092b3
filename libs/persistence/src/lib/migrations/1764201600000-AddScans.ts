import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Findings become tracked from scan to scan (M6).
 * - `scans`: one row per upload: who sent it, its context (repository, ref, commit, tools), status and counts.
 * - `scan_payloads`: the body as received (≤ SCAN_MAX_UPLOAD_BYTES, usually gzip) of a scan processed after its
 *   202 answer, so that a crash after the answer loses nothing; deleted when the scan is processed.
 * - `scan_streams`: the newest scan applied per (repository, ref, tool): an older scan processed later (a queue
 *   is not a clock) must not close or reopen what a newer one decided.
 * - `findings` gains its identity (unique per organization, repository and ref), its state and its sightings;
 *   every existing finding becomes an open one seen once, with an identity of its own (nothing to merge with).
 * - `finding_rules`: a rule's name and help, once per (organization, tool, rule) rather than on every finding
 *   (CodeQL's help runs to kilobytes, repeated on thousands of findings).
 * - `finding_history`: per finding, what each scan did to it (new, seen, reopened, fixed). Scan ids here and on
 *   findings carry no foreign key: scans are only ever deleted with their organization, which takes the
 *   findings with it, and the checks would cost every row of every scan.
 * - `idempotency_records`: the answer to an Idempotency-Key, replayed for 24 hours; as text, since a replay is the
 *   first answer byte for byte (jsonb would reorder its keys).
 * Plain DDL and core functions (sha256, gen_random_uuid): it runs on the embedded PGlite too.
 */
export class AddScans1764201600000 implements MigrationInterface {
  name = 'AddScans1764201600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE scans (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        api_key_id uuid NULL REFERENCES api_keys (id),
        client_id varchar(50) NULL,
        user_id varchar(200) NULL,
        status varchar(16) NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
        format varchar(8) NULL CHECK (format IN ('sarif', 'native')),
        repository varchar(500) NOT NULL DEFAULT '',
        ref varchar(500) NOT NULL DEFAULT '',
        commit_sha varchar(200) NOT NULL DEFAULT '',
        tools jsonb NOT NULL DEFAULT '[]',
        results integer NOT NULL DEFAULT 0,
        new_count integer NOT NULL DEFAULT 0,
        unchanged_count integer NOT NULL DEFAULT 0,
        fixed_count integer NOT NULL DEFAULT 0,
        reopened_count integer NOT NULL DEFAULT 0,
        received_bytes integer NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        error jsonb NULL,
        received_at timestamptz NOT NULL,
        started_at timestamptz NULL,
        completed_at timestamptz NULL,
        CONSTRAINT scans_uploader CHECK ((api_key_id IS NULL) <> (user_id IS NULL))
      )`);
    await queryRunner.query(
      `CREATE INDEX scans_org_received_idx ON scans (organization_id, received_at, id)`,
    );
    await queryRunner.query(
      `CREATE INDEX scans_pending_idx ON scans (received_at, id) WHERE status IN ('queued', 'processing')`,
    );
    await queryRunner.query(`
      CREATE TABLE scan_payloads (
        scan_id uuid PRIMARY KEY REFERENCES scans (id) ON DELETE CASCADE,
        media_type varchar(50) NOT NULL,
        content_coding varchar(10) NOT NULL,
        query jsonb NOT NULL,
        body bytea NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE scan_streams (
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        repository varchar(500) NOT NULL,
        ref varchar(500) NOT NULL,
        tool varchar(200) NOT NULL,
        last_scan_id uuid NULL,
        last_received_at timestamptz NULL,
        PRIMARY KEY (organization_id, repository, ref, tool)
      )`);

    await queryRunner.query(`
      ALTER TABLE findings
        ALTER COLUMN api_key_id DROP NOT NULL,
        ALTER COLUMN client_id DROP NOT NULL,
        ALTER COLUMN location DROP NOT NULL,
        ALTER COLUMN tool TYPE varchar(200),
        ADD COLUMN repository varchar(500) NOT NULL DEFAULT '',
        ADD COLUMN ref varchar(500) NOT NULL DEFAULT '',
        ADD COLUMN identity varchar(64) NULL,
        ADD COLUMN identity_source varchar(20) NOT NULL DEFAULT 'computed',
        ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
        ADD COLUMN cwe text[] NOT NULL DEFAULT '{}',
        ADD COLUMN state varchar(8) NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'fixed')),
        ADD COLUMN occurrences integer NOT NULL DEFAULT 1,
        ADD COLUMN first_scan_id uuid NULL,
        ADD COLUMN last_scan_id uuid NULL,
        ADD COLUMN fixed_scan_id uuid NULL,
        ADD COLUMN last_seen_at timestamptz NULL,
        ADD COLUMN fixed_at timestamptz NULL`);
    await queryRunner.query(`ALTER TABLE findings RENAME COLUMN created_at TO first_seen_at`);
    // Every scan that reports a finding again updates its row: room on the page lets those updates stay HOT
    // (no index touched) when no indexed column changes.
    await queryRunner.query(`ALTER TABLE findings SET (fillfactor = 70)`);
    await queryRunner.query(`
      UPDATE findings
         SET identity = encode(sha256(convert_to('legacy:' || id::text, 'UTF8')), 'hex'),
             tool = coalesce(tool, ''),
             last_seen_at = first_seen_at`);
    await queryRunner.query(`
      ALTER TABLE findings
        ALTER COLUMN identity SET NOT NULL,
        ALTER COLUMN tool SET NOT NULL,
        ALTER COLUMN tool SET DEFAULT '',
        ALTER COLUMN last_seen_at SET NOT NULL`);
    await queryRunner.query(`DROP INDEX findings_org_created_idx`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX findings_identity_uq ON findings (organization_id, repository, ref, identity)`,
    );
    // The list's default order (newest first seen) and its keyset cursor.
    await queryRunner.query(
      `CREATE INDEX findings_org_seen_idx ON findings (organization_id, first_seen_at, id)`,
    );
    // A completed scan closes the open findings of its stream.
    await queryRunner.query(
      `CREATE INDEX findings_stream_open_idx ON findings (organization_id, repository, ref, tool) WHERE state = 'open'`,
    );

    await queryRunner.query(`
      CREATE TABLE finding_rules (
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        tool varchar(200) NOT NULL,
        rule_id varchar(200) NOT NULL,
        name varchar(500) NULL,
        help text NULL,
        help_uri varchar(2000) NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (organization_id, tool, rule_id)
      )`);
    await queryRunner.query(`
      CREATE TABLE finding_history (
        finding_id uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
        scan_id uuid NOT NULL,
        event varchar(10) NOT NULL CHECK (event IN ('new', 'seen', 'reopened', 'fixed')),
        at timestamptz NOT NULL,
        PRIMARY KEY (finding_id, scan_id)
      )`);
    await queryRunner.query(`CREATE INDEX finding_history_scan_idx ON finding_history (scan_id)`);

    await queryRunner.query(`
      CREATE TABLE idempotency_records (
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        credential varchar(250) NOT NULL,
        idempotency_key varchar(255) NOT NULL,
        request_hash char(64) NOT NULL,
        status_code smallint NOT NULL,
        response text NOT NULL,
        location varchar(500) NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (organization_id, credential, idempotency_key)
      )`);
    await queryRunner.query(
      `CREATE INDEX idempotency_records_expiry_idx ON idempotency_records (expires_at)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE idempotency_records`);
    await queryRunner.query(`DROP TABLE finding_history`);
    await queryRunner.query(`DROP TABLE finding_rules`);
    await queryRunner.query(`DROP INDEX findings_stream_open_idx`);
    await queryRunner.query(`DROP INDEX findings_org_seen_idx`);
    await queryRunner.query(`DROP INDEX findings_identity_uq`);
    // The earlier schema knew neither uploads by users nor findings without a location: such rows cannot go back.
    await queryRunner.query(`DELETE FROM findings WHERE api_key_id IS NULL OR location IS NULL`);
    await queryRunner.query(`ALTER TABLE findings RENAME COLUMN first_seen_at TO created_at`);
    await queryRunner.query(`ALTER TABLE findings RESET (fillfactor)`);
    await queryRunner.query(`
      ALTER TABLE findings
        DROP COLUMN fixed_at,
        DROP COLUMN last_seen_at,
        DROP COLUMN fixed_scan_id,
        DROP COLUMN last_scan_id,
        DROP COLUMN first_scan_id,
        DROP COLUMN occurrences,
        DROP COLUMN state,
        DROP COLUMN cwe,
        DROP COLUMN tags,
        DROP COLUMN identity_source,
        DROP COLUMN identity,
        DROP COLUMN ref,
        DROP COLUMN repository,
        ALTER COLUMN tool DROP DEFAULT,
        ALTER COLUMN tool DROP NOT NULL`);
    await queryRunner.query(`UPDATE findings SET tool = NULL WHERE tool = ''`);
    await queryRunner.query(`UPDATE findings SET tool = left(tool, 100) WHERE length(tool) > 100`);
    await queryRunner.query(`
      ALTER TABLE findings
        ALTER COLUMN tool TYPE varchar(100),
        ALTER COLUMN location SET NOT NULL,
        ALTER COLUMN client_id SET NOT NULL,
        ALTER COLUMN api_key_id SET NOT NULL`);
    await queryRunner.query(
      `CREATE INDEX findings_org_created_idx ON findings (organization_id, created_at, id)`,
    );
    await queryRunner.query(`DROP TABLE scan_streams`);
    await queryRunner.query(`DROP TABLE scan_payloads`);
    await queryRunner.query(`DROP TABLE scans`);
  }
}
