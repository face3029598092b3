import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { ScanTool } from './entities/scan.entity';
import type { ScanFormat } from './findings.constants';
import { readUpload, type UploadReaderOptions } from './ingest/upload-reader';
import type { MappedFinding, RunContext } from './ingest/upload.types';
import { cutText } from './ingest/text';
import { normalizeRepository } from './repository';

/** Findings written per round of statements: large enough to amortize round trips, small enough to bound memory. */
export const SCAN_WRITE_BATCH = 1000;

/** The scan being applied; its row exists in the same transaction. */
export interface ScanSubject {
  id: string;
  organizationId: string;
  apiKeyId: string | null;
  clientId: string | null;
  receivedAt: Date;
}

export interface ScanCounts {
  results: number;
  new: number;
  unchanged: number;
  fixed: number;
  reopened: number;
}

export interface ScanOutcome extends ScanCounts {
  format: ScanFormat;
  repository: string;
  ref: string;
  commitSha: string;
  tools: ScanTool[];
}

export interface ScanContext {
  repository: string;
  ref: string;
  commitSha: string;
  tools: ScanTool[];
  /** Tools whose stream this scan may close findings of: declared, named, with a repository. */
  streamTools: string[];
  /** Streams that already saw a scan received after this one: it adds sightings there but changes no state. */
  staleTools: Set<string>;
}

const REF_MAX = 500;
const COMMIT_MAX = 200;
export const TOOL_MAX = 200;

function firstOf(runs: readonly RunContext[], pick: (run: RunContext) => string | null): string {
  for (const run of runs) {
    const value = pick(run)?.trim();
    if (value) return value;
  }
  return '';
}

export function contextOf(runs: readonly RunContext[]): Omit<ScanContext, 'staleTools'> {
  const repository = normalizeRepository(firstOf(runs, (run) => run.repository));
  const tools = new Map<string, ScanTool>();
  for (const run of runs) {
    const name = cutText(run.tool ?? '', TOOL_MAX);
    if (name && !tools.has(name)) tools.set(name, { name, version: run.toolVersion });
  }
  return {
    repository,
    ref: cutText(
      firstOf(runs, (run) => run.ref),
      REF_MAX,
    ),
    commitSha: cutText(
      firstOf(runs, (run) => run.commit),
      COMMIT_MAX,
    ),
    tools: [...tools.values()],
    // Without a repository there is no stream to compare with: such a scan closes nothing.
    streamTools: repository ? [...tools.keys()].sort() : [],
  };
}

/**
 * The advisory lock every writer of a (repository, ref)'s findings holds until its transaction ends, by the
 * text it is hashed from: one upload's transaction (ScanProcessor) and a group commit (ScanBatcher) take the same.
 */
export function streamLockKey(organizationId: string, repository: string, ref: string): string {
  return `gatehouse.scan:${organizationId}/${repository}@${ref}`;
}

/** A finding as the batch statements read it (jsonb_to_recordset). */
export function findingRecord(finding: MappedFinding, id: string): Record<string, unknown> {
  return {
    id,
    identity: finding.identity,
    identity_source: finding.identitySource,
    tool: cutText(finding.tool, TOOL_MAX),
    rule_id: finding.ruleId,
    tags: finding.rule.tags,
    cwe: finding.rule.cwe,
    title: finding.title,
    severity: finding.severity,
    location: finding.location,
    description: finding.description,
    fingerprint: finding.fingerprint ?? null,
    metadata: finding.metadata,
  };
}

export const RECORD_COLUMNS = `
  id uuid, identity varchar, identity_source varchar, tool varchar, rule_id varchar, tags text[], cwe text[],
  title varchar, severity varchar, location jsonb, description text, fingerprint varchar, metadata jsonb`;

/**
 * The findings of a (repository, ref) among a batch's identities: one unique-index lookup per identity, whatever
 * the planner's statistics say. (With `identity = ANY(...)`, or a join it could flatten, it read the whole stream
 * for each batch when the table's statistics predated the stream: 25 000 rows per batch of 1 000.)
 */
const FIND_KNOWN = `
  SELECT f.id, f.identity, f.state, f.tool
    FROM unnest($4::varchar[]) AS wanted(identity)
   CROSS JOIN LATERAL (
     SELECT id, identity, state, tool FROM findings
      WHERE organization_id = $1 AND repository = $2 AND ref = $3 AND identity = wanted.identity
      -- Unique anyway; the LIMIT keeps the planner from flattening this into one scan of the whole stream.
      LIMIT 1
   ) f`;

/** What the batches of one scan carry from one to the next. */
interface ScanWriteState {
  /** (tool, rule) pairs whose text this scan has written. */
  rulesWritten: Set<string>;
  /** Whether the previous batch was mostly new findings (see writeBatch). */
  expectNew: boolean;
}

interface ExistingRow {
  id: string;
  identity: string;
  state: 'open' | 'fixed';
  tool: string;
}

/**
 * Applies one upload to the organization's findings inside the caller's transaction: every finding of the scan
 * is stored, or none is. A finding already known in the scan's (repository, ref) is updated, never duplicated;
 * one the scan's tools no longer report is closed as fixed; one that comes back is reopened. Scans of one
 * (repository, ref) are applied one at a time (a transaction-scoped advisory lock).
 */
export class ScanProcessor {
  async apply(
    manager: EntityManager,
    scan: ScanSubject,
    body: Buffer,
    options: UploadReaderOptions,
  ): Promise<ScanOutcome> {
    const { reader, events } = readUpload(body, options);
    const counts: ScanCounts = { results: 0, new: 0, unchanged: 0, fixed: 0, reopened: 0 };
    const state: ScanWriteState = { rulesWritten: new Set<string>(), expectNew: true };
    let context: ScanContext | undefined;
    let batch: MappedFinding[] = [];
    // The next batch is read (CPU here) while the previous one is written (PostgreSQL): one write at a time, on
    // the transaction's one connection, never more than two batches in memory.
    let writing: Promise<void> = Promise.resolve();
    // A failed write is rethrown at the next wait for it, not left as a rejection nobody awaits meanwhile.
    let writeFailure: { error: unknown } | undefined;
    const written = async (): Promise<void> => {
      await writing;
      if (writeFailure) throw writeFailure.error;
    };
    const write = async (findings: MappedFinding[], scanContext: ScanContext): Promise<void> => {
      await written();
      writing = this.writeBatch(manager, scan, scanContext, findings, counts, state).catch(
        (error: unknown) => {
          writeFailure = { error };
        },
      );
    };
    try {
      for await (const event of events) {
        // The reader knows every run before it yields anything (see upload-reader.ts).
        context ??= await this.begin(manager, scan, reader.runs);
        if (event.kind !== 'finding') continue;
        counts.results += 1;
        batch.push(event.finding);
        if (batch.length >= SCAN_WRITE_BATCH) {
          await write(batch, context);
          batch = [];
        }
      }
    } finally {
      // A document refused part-way: the write in flight must end before the caller rolls the transaction back,
      // or its remaining statements would run after the ROLLBACK, outside any transaction.
      await writing;
    }
    context ??= await this.begin(manager, scan, reader.runs);
    if (batch.length > 0) await write(batch, context);
    await written();
    counts.fixed = await this.closeMissing(manager, scan, context);
    return {
      ...counts,
      format: reader.format,
      repository: context.repository,
      ref: context.ref,
      commitSha: context.commitSha,
      tools: context.tools,
    };
  }

  private async begin(
    manager: EntityManager,
    scan: ScanSubject,
    runs: readonly RunContext[],
  ): Promise<ScanContext> {
    const context = contextOf(runs);
    const key = [scan.organizationId, context.repository, context.ref];
    // Scans of one (repository, ref) are applied one at a time, whatever their tools: each sees the findings the
    // previous one left, and two never insert the same findings in crossing orders (a deadlock).
    await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      streamLockKey(scan.organizationId, context.repository, context.ref),
    ]);
    const staleTools = new Set<string>();
    if (context.streamTools.length > 0) {
      // Created when missing; either way each stream's row comes back (DO UPDATE returns existing rows too).
      const streams: Array<{ tool: string; last_received_at: Date | null }> = await manager.query(
        `INSERT INTO scan_streams (organization_id, repository, ref, tool)
         SELECT $1, $2, $3, unnest($4::text[])
         ON CONFLICT (organization_id, repository, ref, tool) DO UPDATE SET tool = excluded.tool
         RETURNING tool, last_received_at`,
        [...key, context.streamTools],
      );
      for (const stream of streams) {
        if (stream.last_received_at && stream.last_received_at > scan.receivedAt) staleTools.add(stream.tool);
      }
    }
    return { ...context, staleTools };
  }

  private async writeBatch(
    manager: EntityManager,
    scan: ScanSubject,
    context: ScanContext,
    batch: readonly MappedFinding[],
    counts: ScanCounts,
    state: ScanWriteState,
  ): Promise<void> {
    // The same finding twice in one scan (two runs of one tool, a duplicated result) counts once.
    const byIdentity = new Map<string, MappedFinding>();
    for (const finding of batch) {
      if (!byIdentity.has(finding.identity)) byIdentity.set(finding.identity, finding);
    }
    const streamKey = [scan.organizationId, context.repository, context.ref];
    await this.writeRules(manager, scan, batch, state.rulesWritten);

    const existing = new Map<string, ExistingRow>();
    const lookUp = async (identities: string[]): Promise<void> => {
      // No row locks: every writer of these rows holds the (repository, ref) lock taken in begin(), and locking
      // each row would write to every one of them (half the cost of a re-scan).
      const rows: ExistingRow[] = await manager.query(FIND_KNOWN, [...streamKey, identities]);
      for (const row of rows) existing.set(row.identity, row);
    };
    // A first scan is all new findings, a re-scan all known ones: as the previous batch went, either insert first
    // and look up only what was already there, or look up first and insert only what was not. Either order is
    // correct; the guess saves a statement per batch.
    if (!state.expectNew) await lookUp([...byIdentity.keys()]);
    const fresh = [...byIdentity.values()].filter((finding) => !existing.has(finding.identity));
    const insertedIds: string[] = [];
    if (fresh.length > 0) {
      const inserted: Array<{ id: string; identity: string }> = await manager.query(
        `INSERT INTO findings (id, organization_id, repository, ref, api_key_id, client_id, first_scan_id,
                               last_scan_id, first_seen_at, last_seen_at, state, occurrences, identity,
                               identity_source, tool, rule_id, tags, cwe, title, severity, location, description,
                               fingerprint, metadata)
         SELECT x.id, $1, $2, $3, $4, $5, $6, $6, $7, $7, 'open', 1, x.identity, x.identity_source, x.tool, x.rule_id,
                x.tags, x.cwe, x.title, x.severity, x.location, x.description, x.fingerprint, x.metadata
           FROM jsonb_to_recordset($8::jsonb) AS x(${RECORD_COLUMNS})
         ON CONFLICT (organization_id, repository, ref, identity) DO NOTHING
         RETURNING id, identity`,
        [
          ...streamKey,
          scan.apiKeyId,
          scan.clientId,
          scan.id,
          scan.receivedAt,
          JSON.stringify(fresh.map((finding) => findingRecord(finding, randomUUID()))),
        ],
      );
      const insertedIdentities = new Set(inserted.map((row) => row.identity));
      for (const row of inserted) insertedIds.push(row.id);
      // Known already (inserted first), or by a conflict no lock prevents: updated as known, never lost.
      const known = fresh.filter((finding) => !insertedIdentities.has(finding.identity));
      if (known.length > 0) await lookUp(known.map((finding) => finding.identity));
      state.expectNew = inserted.length * 2 >= byIdentity.size;
      counts.new += inserted.length;
      if (insertedIds.length > 0) {
        await manager.query(
          `INSERT INTO finding_history (finding_id, scan_id, event, at)
           SELECT unnest($1::uuid[]), $2, 'new', $3`,
          [insertedIds, scan.id, scan.receivedAt],
        );
      }
    }

    if (fresh.length === 0) state.expectNew = false;
    if (existing.size === 0) return;
    const sightings = [...existing.values()].map((row) => {
      const stale = context.staleTools.has(row.tool);
      return { row, stale, event: !stale && row.state === 'fixed' ? 'reopened' : 'seen' };
    });
    // A finding counts once per scan: a history row exists already when an earlier batch of this scan saw it.
    const firstSightings: Array<{ finding_id: string; event: string }> = await manager.query(
      `INSERT INTO finding_history (finding_id, scan_id, event, at)
       SELECT s.finding_id, $1, s.event, $2 FROM jsonb_to_recordset($3::jsonb) AS s(finding_id uuid, event varchar)
       ON CONFLICT (finding_id, scan_id) DO NOTHING
       RETURNING finding_id, event`,
      [
        scan.id,
        scan.receivedAt,
        JSON.stringify(sightings.map(({ row, event }) => ({ finding_id: row.id, event }))),
      ],
    );
    if (firstSightings.length === 0) return;
    const first = new Set(firstSightings.map((row) => row.finding_id));
    for (const row of firstSightings) {
      if (row.event === 'reopened') counts.reopened += 1;
      else counts.unchanged += 1;
    }
    const updates = sightings
      .filter(({ row }) => first.has(row.id))
      .map(({ row, stale }) => ({
        ...findingRecord(byIdentity.get(row.identity) as MappedFinding, row.id),
        current: !stale,
      }));
    // A current scan makes the finding open and refreshes what it says (a rule's severity or help may change); a
    // stale one only adds its sighting.
    await manager.query(
      `UPDATE findings f
          SET occurrences = f.occurrences + 1,
              last_seen_at = GREATEST(f.last_seen_at, $2),
              last_scan_id = CASE WHEN u.current THEN $1 ELSE f.last_scan_id END,
              state = CASE WHEN u.current THEN 'open' ELSE f.state END,
              fixed_at = CASE WHEN u.current THEN NULL ELSE f.fixed_at END,
              fixed_scan_id = CASE WHEN u.current THEN NULL ELSE f.fixed_scan_id END,
              severity = CASE WHEN u.current THEN u.severity ELSE f.severity END,
              title = CASE WHEN u.current THEN u.title ELSE f.title END,
              description = CASE WHEN u.current THEN u.description ELSE f.description END,
              location = CASE WHEN u.current THEN u.location ELSE f.location END,
              tags = CASE WHEN u.current THEN u.tags ELSE f.tags END,
              cwe = CASE WHEN u.current THEN u.cwe ELSE f.cwe END,
              metadata = CASE WHEN u.current THEN u.metadata ELSE f.metadata END
         FROM jsonb_to_recordset($3::jsonb) AS u(${RECORD_COLUMNS}, current boolean)
        WHERE f.id = u.id`,
      [scan.id, scan.receivedAt, JSON.stringify(updates)],
    );
  }

  /**
   * The name and help of each rule the batch uses, once per scan; a scan received before the one that last wrote
   * a rule leaves that rule's text as it is.
   */
  private async writeRules(
    manager: EntityManager,
    scan: ScanSubject,
    batch: readonly MappedFinding[],
    rulesWritten: Set<string>,
  ): Promise<void> {
    const rules = new Map<string, Record<string, unknown>>();
    for (const finding of batch) {
      const tool = cutText(finding.tool, TOOL_MAX);
      const key = JSON.stringify([tool, finding.ruleId]);
      if (rulesWritten.has(key) || rules.has(key)) continue;
      const { name, help, helpUri } = finding.rule;
      if (name === null && help === null && helpUri === null) continue;
      rules.set(key, { tool, rule_id: finding.ruleId, name, help, help_uri: helpUri });
    }
    if (rules.size === 0) return;
    await manager.query(
      `INSERT INTO finding_rules (organization_id, tool, rule_id, name, help, help_uri, updated_at)
       SELECT $1, r.tool, r.rule_id, r.name, r.help, r.help_uri, $2
         FROM jsonb_to_recordset($3::jsonb)
           AS r(tool varchar, rule_id varchar, name varchar, help text, help_uri varchar)
       ON CONFLICT (organization_id, tool, rule_id) DO UPDATE
          SET name = excluded.name, help = excluded.help, help_uri = excluded.help_uri,
              updated_at = excluded.updated_at
        WHERE finding_rules.updated_at <= excluded.updated_at`,
      [scan.organizationId, scan.receivedAt, JSON.stringify([...rules.values()])],
    );
    for (const key of rules.keys()) rulesWritten.add(key);
  }

  /**
   * Open findings of the scan's streams that it did not report are fixed by it, and the streams remember it as
   * their newest scan: one statement.
   */
  private async closeMissing(
    manager: EntityManager,
    scan: ScanSubject,
    context: ScanContext,
  ): Promise<number> {
    const tools = context.streamTools.filter((tool) => !context.staleTools.has(tool));
    if (tools.length === 0) return 0;
    const [row]: Array<{ fixed: number }> = await manager.query(
      `WITH closed AS (
         UPDATE findings
            SET state = 'fixed', fixed_at = $5, fixed_scan_id = $4
          WHERE organization_id = $1 AND repository = $2 AND ref = $3 AND tool = ANY($6::text[])
            AND state = 'open' AND last_scan_id IS DISTINCT FROM $4
         RETURNING id
       ), logged AS (
         INSERT INTO finding_history (finding_id, scan_id, event, at)
         SELECT id, $4, 'fixed', $5 FROM closed
         RETURNING 1
       ), advanced AS (
         UPDATE scan_streams SET last_scan_id = $4, last_received_at = $5
          WHERE organization_id = $1 AND repository = $2 AND ref = $3 AND tool = ANY($6::text[])
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM logged)::int AS fixed, (SELECT count(*) FROM advanced)::int AS streams`,
      [scan.organizationId, context.repository, context.ref, scan.id, scan.receivedAt, tools],
    );
    return row?.fixed ?? 0;
  }
}
