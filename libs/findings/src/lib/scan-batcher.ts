import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import type { ScanFormat } from './findings.constants';
import type { MappedFinding, RunContext } from './ingest/upload.types';
import { runPrepared } from './prepared-statement';
import { cutText } from './ingest/text';
import {
  contextOf,
  findingRecord,
  RECORD_COLUMNS,
  streamLockKey,
  TOOL_MAX,
  type ScanContext,
  type ScanCounts,
  type ScanOutcome,
  type ScanSubject,
} from './scan-processor';

/**
 * Group commit of small uploads: the largest decompressed body (bytes) that is read whole in the request and
 * applied together with the uploads that arrive meanwhile, in one transaction. Larger ones keep a transaction
 * of their own (ScanProcessor), which streams them.
 */
export const GROUP_COMMIT_MAX_BYTES = 64 * 1024;
/** Uploads per group commit. */
export const GROUP_COMMIT_MAX_UPLOADS = 64;
/** Findings per group commit (an upload larger than this alone still goes, alone). */
export const GROUP_COMMIT_MAX_FINDINGS = 2000;
/**
 * Group commits in flight at once: while one is in PostgreSQL the next is being formed and sent, and the
 * uploads that arrive meanwhile wait for the one after.
 */
export const GROUP_COMMIT_IN_FLIGHT = 2;

/** A small upload read whole in the request, with the scan it becomes. */
export interface BatchedUpload {
  scan: ScanSubject;
  userId: string | null;
  format: ScanFormat;
  runs: readonly RunContext[];
  findings: readonly MappedFinding[];
  receivedBytes: number;
}

interface Entry {
  upload: BatchedUpload;
  context: ScanContext;
  /** The (organization, repository, ref) stream, as its advisory lock names it. */
  stream: string;
  /** A scan that may close findings of its stream: alone in its stream within a group. */
  closes: boolean;
  resolve: (outcome: ScanOutcome) => void;
  reject: (error: unknown) => void;
}

/** A finding of a group's streams: read from PostgreSQL, or created by an upload of the group. */
interface GroupFinding {
  id: string;
  tool: string;
  state: 'open' | 'fixed';
  created: boolean;
  /** Sightings by uploads of the group after the one that created it (or all of them for a known one). */
  sightings: number;
  lastSeenAt: Date;
  /** The newest current sighting: it sets what the finding says and makes it open. */
  current?: { scanId: string; finding: MappedFinding };
  /** For one created here: the upload that created it, and its stream. */
  first?: { upload: BatchedUpload; finding: MappedFinding; repository: string; ref: string };
}

interface KnownRow {
  id: string;
  organization_id: string;
  repository: string;
  ref: string;
  identity: string;
  state: 'open' | 'fixed';
  tool: string;
}

class ConcurrentInsert extends Error {}

const findingKey = (organizationId: string, repository: string, ref: string, identity: string): string =>
  JSON.stringify([organizationId, repository, ref, identity]);

/**
 * Applies small uploads in groups: each upload waits while the group before it commits, then goes with every
 * upload that arrived meanwhile in one transaction of a fixed number of statements (stream locks, rules, one
 * lookup, one insert, one update, one history insert, the closing of missing findings, the scans), so that the
 * cost per upload in PostgreSQL (round trips, plans, WAL flushes) falls as the rate rises. Each upload still gets
 * its own scan and exactly the outcome it would have had alone, in arrival order: uploads of one stream that
 * may close findings never share a group, the others are applied in order within it. Nothing is answered before
 * its group has committed. A group that fails is retried one upload per transaction, so that one upload's
 * failure is only its own.
 */
export class ScanBatcher {
  private readonly logger = new Logger(ScanBatcher.name);
  private readonly queue: Entry[] = [];
  private inFlight = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly now: () => Date,
    /** Statements prepared by name per connection (see FindingsOptions.preparedStatements). */
    private readonly preparedStatements = true,
  ) {}

  private statementName(name: string): string | undefined {
    return this.preparedStatements ? name : undefined;
  }

  submit(upload: BatchedUpload): Promise<ScanOutcome> {
    const context = { ...contextOf(upload.runs), staleTools: new Set<string>() };
    return new Promise<ScanOutcome>((resolve, reject) => {
      this.queue.push({
        upload,
        context,
        stream: streamLockKey(upload.scan.organizationId, context.repository, context.ref),
        closes: context.streamTools.length > 0,
        resolve,
        reject,
      });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < GROUP_COMMIT_IN_FLIGHT && this.queue.length > 0) {
      const group = this.take();
      this.inFlight += 1;
      void this.run(group).finally(() => {
        this.inFlight -= 1;
        this.drain();
      });
    }
  }

  /** The next group, in arrival order: a closing scan is alone in its stream, the bounds hold. */
  private take(): Entry[] {
    const group: Entry[] = [];
    const streams = new Map<string, boolean>();
    let findings = 0;
    for (let index = 0; index < this.queue.length && group.length < GROUP_COMMIT_MAX_UPLOADS;) {
      const entry = this.queue[index];
      const closesThere = streams.get(entry.stream);
      const fitsStream = closesThere === undefined || (!closesThere && !entry.closes);
      const fitsSize =
        group.length === 0 || findings + entry.upload.findings.length <= GROUP_COMMIT_MAX_FINDINGS;
      if (!fitsStream || !fitsSize) {
        // Later uploads of that stream wait too, so that a stream's uploads keep their order.
        streams.set(entry.stream, true);
        index += 1;
        continue;
      }
      this.queue.splice(index, 1);
      group.push(entry);
      streams.set(entry.stream, entry.closes);
      findings += entry.upload.findings.length;
    }
    return group;
  }

  private async run(group: Entry[]): Promise<void> {
    try {
      const outcomes = await this.dataSource.transaction((manager) => this.apply(manager, group));
      group.forEach((entry, index) => entry.resolve(outcomes[index]));
      return;
    } catch (error) {
      if (group.length === 1) {
        group[0]?.reject(error);
        return;
      }
      if (!(error instanceof ConcurrentInsert)) {
        this.logger.warn(
          `a group of ${group.length} uploads failed (${(error as Error).message}); applying each alone`,
        );
      }
    }
    for (const entry of group) {
      // Stale tools were found for the failed group; each upload looks again in its own transaction.
      entry.context.staleTools.clear();
      try {
        const [outcome] = await this.dataSource.transaction((manager) => this.apply(manager, [entry]));
        entry.resolve(outcome);
      } catch (error) {
        entry.reject(error);
      }
    }
  }

  private async apply(manager: EntityManager, group: readonly Entry[]): Promise<ScanOutcome[]> {
    // The same order in every group, so that two groups never wait for each other's locks.
    const locks = [...new Set(group.map((entry) => entry.stream))].sort();
    await runPrepared(
      manager,
      this.statementName('gatehouse_batch_lock'),
      `SELECT pg_advisory_xact_lock(hashtextextended(stream, 0)) FROM unnest($1::text[]) AS stream`,
      [locks],
    );
    await this.findStaleTools(manager, group);
    await this.writeRules(manager, group);

    const known = await this.lookUp(manager, group);
    const history: Array<{ finding_id: string; scan_id: string; event: string; at: Date }> = [];
    const counts = group.map((entry) => this.sight(entry, known, history));

    await this.writeFindings(manager, known);
    if (history.length > 0) {
      await runPrepared(
        manager,
        this.statementName('gatehouse_batch_history'),
        `INSERT INTO finding_history (finding_id, scan_id, event, at)
         SELECT h.finding_id, h.scan_id, h.event, h.at
           FROM jsonb_to_recordset($1::jsonb) AS h(finding_id uuid, scan_id uuid, event varchar, at timestamptz)`,
        [JSON.stringify(history)],
      );
    }
    const fixed = await this.closeMissing(manager, group);
    group.forEach((entry, index) => {
      counts[index].fixed = fixed.get(entry.upload.scan.id) ?? 0;
    });
    await this.writeScans(manager, group, counts);
    return group.map((entry, index) => ({
      ...counts[index],
      format: entry.upload.format,
      repository: entry.context.repository,
      ref: entry.context.ref,
      commitSha: entry.context.commitSha,
      tools: entry.context.tools,
    }));
  }

  /** As ScanProcessor.begin: a closing scan's streams exist, and those that saw a later scan are stale for it. */
  private async findStaleTools(manager: EntityManager, group: readonly Entry[]): Promise<void> {
    const closing = group.filter((entry) => entry.closes);
    if (closing.length === 0) return;
    const byStream = new Map(closing.map((entry) => [entry.stream, entry]));
    const streams: Array<{
      organization_id: string;
      repository: string;
      ref: string;
      tool: string;
      last_received_at: Date | null;
    }> = await runPrepared(
      manager,
      this.statementName('gatehouse_batch_streams'),
      `INSERT INTO scan_streams (organization_id, repository, ref, tool)
       SELECT s.organization_id, s.repository, s.ref, s.tool
         FROM jsonb_to_recordset($1::jsonb) AS s(organization_id uuid, repository varchar, ref varchar, tool varchar)
       ON CONFLICT (organization_id, repository, ref, tool) DO UPDATE SET tool = excluded.tool
       RETURNING organization_id, repository, ref, tool, last_received_at`,
      [
        JSON.stringify(
          closing.flatMap((entry) =>
            entry.context.streamTools.map((tool) => ({
              organization_id: entry.upload.scan.organizationId,
              repository: entry.context.repository,
              ref: entry.context.ref,
              tool,
            })),
          ),
        ),
      ],
    );
    for (const stream of streams) {
      const entry = byStream.get(streamLockKey(stream.organization_id, stream.repository, stream.ref));
      if (entry && stream.last_received_at && stream.last_received_at > entry.upload.scan.receivedAt) {
        entry.context.staleTools.add(stream.tool);
      }
    }
  }

  /** As ScanProcessor.writeRules, for the whole group: the latest upload's text of each rule wins. */
  private async writeRules(manager: EntityManager, group: readonly Entry[]): Promise<void> {
    const rules = new Map<string, Record<string, unknown>>();
    for (const { upload } of group) {
      for (const finding of upload.findings) {
        const { name, help, helpUri } = finding.rule;
        if (name === null && help === null && helpUri === null) continue;
        const tool = cutText(finding.tool, TOOL_MAX);
        const key = JSON.stringify([upload.scan.organizationId, tool, finding.ruleId]);
        const known = rules.get(key);
        if (known && (known['updated_at'] as Date) > upload.scan.receivedAt) continue;
        rules.set(key, {
          organization_id: upload.scan.organizationId,
          tool,
          rule_id: finding.ruleId,
          name,
          help,
          help_uri: helpUri,
          updated_at: upload.scan.receivedAt,
        });
      }
    }
    if (rules.size === 0) return;
    await runPrepared(
      manager,
      this.statementName('gatehouse_batch_rules'),
      `INSERT INTO finding_rules (organization_id, tool, rule_id, name, help, help_uri, updated_at)
       SELECT r.organization_id, r.tool, r.rule_id, r.name, r.help, r.help_uri, r.updated_at
         FROM jsonb_to_recordset($1::jsonb) AS r(organization_id uuid, tool varchar, rule_id varchar, name varchar,
                                                 help text, help_uri varchar, updated_at timestamptz)
       ON CONFLICT (organization_id, tool, rule_id) DO UPDATE
          SET name = excluded.name, help = excluded.help, help_uri = excluded.help_uri,
              updated_at = excluded.updated_at
        WHERE finding_rules.updated_at <= excluded.updated_at`,
      [JSON.stringify([...rules.values()])],
    );
  }

  /** The group's findings known already: one unique-index lookup per (stream, identity), as FIND_KNOWN. */
  private async lookUp(manager: EntityManager, group: readonly Entry[]): Promise<Map<string, GroupFinding>> {
    const wanted = new Map<string, [string, string, string, string]>();
    for (const { upload, context } of group) {
      for (const finding of upload.findings) {
        const tuple: [string, string, string, string] = [
          upload.scan.organizationId,
          context.repository,
          context.ref,
          finding.identity,
        ];
        wanted.set(findingKey(...tuple), tuple);
      }
    }
    const known = new Map<string, GroupFinding>();
    if (wanted.size === 0) return known;
    const columns = [0, 1, 2, 3].map((column) => [...wanted.values()].map((tuple) => tuple[column]));
    const rows: KnownRow[] = await runPrepared(
      manager,
      this.statementName('gatehouse_batch_lookup'),
      `SELECT f.id, f.organization_id, f.repository, f.ref, f.identity, f.state, f.tool
         FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[]) AS w(o, r, f, i)
        CROSS JOIN LATERAL (
          SELECT id, organization_id, repository, ref, identity, state, tool FROM findings
           WHERE organization_id = w.o AND repository = w.r AND ref = w.f AND identity = w.i
           LIMIT 1
        ) f`,
      columns,
    );
    for (const row of rows) {
      known.set(findingKey(row.organization_id, row.repository, row.ref, row.identity), {
        id: row.id,
        tool: row.tool,
        state: row.state,
        created: false,
        sightings: 0,
        lastSeenAt: new Date(0),
      });
    }
    return known;
  }

  /** One upload's findings, in order after the uploads before it in the group: its counts and history rows. */
  private sight(
    entry: Entry,
    known: Map<string, GroupFinding>,
    history: Array<{ finding_id: string; scan_id: string; event: string; at: Date }>,
  ): ScanCounts {
    const { upload, context } = entry;
    const { scan } = upload;
    const counts: ScanCounts = {
      results: upload.findings.length,
      new: 0,
      unchanged: 0,
      fixed: 0,
      reopened: 0,
    };
    // The same finding twice in one scan (two runs of one tool, a duplicated result) counts once.
    const byIdentity = new Map<string, MappedFinding>();
    for (const finding of upload.findings) {
      if (!byIdentity.has(finding.identity)) byIdentity.set(finding.identity, finding);
    }
    for (const finding of byIdentity.values()) {
      const key = findingKey(scan.organizationId, context.repository, context.ref, finding.identity);
      const row = known.get(key);
      if (!row) {
        const id = randomUUID();
        known.set(key, {
          id,
          tool: cutText(finding.tool, TOOL_MAX),
          state: 'open',
          created: true,
          sightings: 0,
          lastSeenAt: scan.receivedAt,
          current: { scanId: scan.id, finding },
          first: { upload, finding, repository: context.repository, ref: context.ref },
        });
        history.push({ finding_id: id, scan_id: scan.id, event: 'new', at: scan.receivedAt });
        counts.new += 1;
        continue;
      }
      const stale = context.staleTools.has(row.tool);
      const event = !stale && row.state === 'fixed' ? 'reopened' : 'seen';
      history.push({ finding_id: row.id, scan_id: scan.id, event, at: scan.receivedAt });
      if (event === 'reopened') counts.reopened += 1;
      else counts.unchanged += 1;
      row.sightings += 1;
      if (scan.receivedAt > row.lastSeenAt) row.lastSeenAt = scan.receivedAt;
      // A current scan makes the finding open and refreshes what it says; a stale one only adds its sighting.
      if (!stale) {
        row.state = 'open';
        row.current = { scanId: scan.id, finding };
      }
    }
    return counts;
  }

  /** The created findings in one insert, the known ones seen again in one update. */
  private async writeFindings(manager: EntityManager, known: Map<string, GroupFinding>): Promise<void> {
    const created: Record<string, unknown>[] = [];
    const updated: Record<string, unknown>[] = [];
    for (const row of known.values()) {
      if (row.created && row.first && row.current) {
        const { upload, finding, repository, ref } = row.first;
        created.push({
          ...findingRecord(row.current.finding, row.id),
          organization_id: upload.scan.organizationId,
          repository,
          ref,
          api_key_id: upload.scan.apiKeyId,
          client_id: upload.scan.clientId,
          first_scan_id: upload.scan.id,
          last_scan_id: row.current.scanId,
          first_seen_at: upload.scan.receivedAt,
          last_seen_at: row.lastSeenAt,
          occurrences: 1 + row.sightings,
          // The identity and its source are the first report's; what it says is the newest's.
          identity: finding.identity,
          identity_source: finding.identitySource,
        });
      } else if (!row.created && row.sightings > 0) {
        updated.push({
          // Without a current sighting only the counters change: what the finding says is not read.
          ...(row.current ? findingRecord(row.current.finding, row.id) : { id: row.id }),
          sightings: row.sightings,
          last_seen_at: row.lastSeenAt,
          last_scan_id: row.current?.scanId ?? null,
          current: row.current !== undefined,
        });
      }
    }
    if (created.length > 0) {
      const inserted: Array<{ id: string }> = await runPrepared(
        manager,
        this.statementName('gatehouse_batch_insert'),
        `INSERT INTO findings (id, organization_id, repository, ref, api_key_id, client_id, first_scan_id,
                               last_scan_id, first_seen_at, last_seen_at, state, occurrences, identity,
                               identity_source, tool, rule_id, tags, cwe, title, severity, location, description,
                               fingerprint, metadata)
         SELECT x.id, x.organization_id, x.repository, x.ref, x.api_key_id, x.client_id, x.first_scan_id,
                x.last_scan_id, x.first_seen_at, x.last_seen_at, 'open', x.occurrences, x.identity,
                x.identity_source, x.tool, x.rule_id, x.tags, x.cwe, x.title, x.severity, x.location,
                x.description, x.fingerprint, x.metadata
           FROM jsonb_to_recordset($1::jsonb) AS x(${RECORD_COLUMNS}, organization_id uuid, repository varchar,
                ref varchar, api_key_id uuid, client_id varchar, first_scan_id uuid, last_scan_id uuid,
                first_seen_at timestamptz, last_seen_at timestamptz, occurrences integer)
         ON CONFLICT (organization_id, repository, ref, identity) DO NOTHING
         RETURNING id`,
        [JSON.stringify(created)],
      );
      // Every writer of these streams holds their locks, taken before the lookup: a conflict means one did not.
      // The group is then applied again one upload at a time, where ScanProcessor's path handles it.
      if (inserted.length !== created.length) throw new ConcurrentInsert('a finding was inserted meanwhile');
    }
    if (updated.length > 0) {
      await runPrepared(
        manager,
        this.statementName('gatehouse_batch_update'),
        `UPDATE findings f
            SET occurrences = f.occurrences + u.sightings,
                last_seen_at = GREATEST(f.last_seen_at, u.last_seen_at),
                last_scan_id = CASE WHEN u.current THEN u.last_scan_id ELSE f.last_scan_id END,
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
           FROM jsonb_to_recordset($1::jsonb) AS u(${RECORD_COLUMNS}, sightings integer,
                last_seen_at timestamptz, last_scan_id uuid, current boolean)
          WHERE f.id = u.id`,
        [JSON.stringify(updated)],
      );
    }
  }

  /** As ScanProcessor.closeMissing, for every closing scan of the group (their streams are distinct). */
  private async closeMissing(manager: EntityManager, group: readonly Entry[]): Promise<Map<string, number>> {
    const closing = group
      .map(({ upload, context }) => ({
        scan_id: upload.scan.id,
        organization_id: upload.scan.organizationId,
        repository: context.repository,
        ref: context.ref,
        tools: context.streamTools.filter((tool) => !context.staleTools.has(tool)),
        at: upload.scan.receivedAt,
      }))
      .filter((scan) => scan.tools.length > 0);
    const fixed = new Map<string, number>();
    if (closing.length === 0) return fixed;
    const rows: Array<{ scan_id: string; fixed: number }> = await runPrepared(
      manager,
      this.statementName('gatehouse_batch_close'),
      `WITH c AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb)
           AS c(scan_id uuid, organization_id uuid, repository varchar, ref varchar, tools text[], at timestamptz)
       ), closed AS (
         UPDATE findings f
            SET state = 'fixed', fixed_at = c.at, fixed_scan_id = c.scan_id
           FROM c
          WHERE f.organization_id = c.organization_id AND f.repository = c.repository AND f.ref = c.ref
            AND f.tool = ANY(c.tools) AND f.state = 'open' AND f.last_scan_id IS DISTINCT FROM c.scan_id
         RETURNING f.id, c.scan_id, c.at
       ), logged AS (
         INSERT INTO finding_history (finding_id, scan_id, event, at)
         SELECT id, scan_id, 'fixed', at FROM closed
         RETURNING scan_id
       ), advanced AS (
         UPDATE scan_streams s SET last_scan_id = c.scan_id, last_received_at = c.at
           FROM c
          WHERE s.organization_id = c.organization_id AND s.repository = c.repository AND s.ref = c.ref
            AND s.tool = ANY(c.tools)
         RETURNING 1
       )
       SELECT scan_id, count(*)::int AS fixed FROM logged GROUP BY scan_id`,
      [JSON.stringify(closing)],
    );
    for (const row of rows) fixed.set(row.scan_id, row.fixed);
    return fixed;
  }

  private async writeScans(
    manager: EntityManager,
    group: readonly Entry[],
    counts: readonly ScanCounts[],
  ): Promise<void> {
    await runPrepared(
      manager,
      this.statementName('gatehouse_batch_scans'),
      `INSERT INTO scans (id, organization_id, api_key_id, client_id, user_id, status, format, repository, ref,
                          commit_sha, tools, results, new_count, unchanged_count, fixed_count, reopened_count,
                          received_bytes, attempts, received_at, started_at, completed_at)
       SELECT s.id, s.organization_id, s.api_key_id, s.client_id, s.user_id, 'completed', s.format, s.repository,
              s.ref, s.commit_sha, s.tools, s.results, s.new_count, s.unchanged_count, s.fixed_count,
              s.reopened_count, s.received_bytes, 0, s.received_at, s.received_at, $2
         FROM jsonb_to_recordset($1::jsonb) AS s(id uuid, organization_id uuid, api_key_id uuid, client_id varchar,
              user_id varchar, format varchar, repository varchar, ref varchar, commit_sha varchar, tools jsonb,
              results integer, new_count integer, unchanged_count integer, fixed_count integer,
              reopened_count integer, received_bytes integer, received_at timestamptz)`,
      [
        JSON.stringify(
          group.map(({ upload, context }, index) => {
            const count = counts[index];
            return {
              id: upload.scan.id,
              organization_id: upload.scan.organizationId,
              api_key_id: upload.scan.apiKeyId,
              client_id: upload.scan.clientId,
              user_id: upload.userId,
              format: upload.format,
              repository: context.repository,
              ref: context.ref,
              commit_sha: context.commitSha,
              tools: context.tools,
              results: count.results,
              new_count: count.new,
              unchanged_count: count.unchanged,
              fixed_count: count.fixed,
              reopened_count: count.reopened,
              received_bytes: upload.receivedBytes,
              received_at: upload.scan.receivedAt,
            };
          }),
        ),
        this.now(),
      ],
    );
  }
}
