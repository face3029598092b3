import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { decodeCursor, GatehouseError, toPage } from '@gatehouse/contracts';
import {
  FINDING_HISTORY_MAX,
  FINDING_SUMMARY_GROUPS_MAX,
  type FindingDetailResponseDto,
  type FindingHistoryEntryDto,
  type FindingLocationResponseDto,
  type FindingPageDto,
  type FindingResponseDto,
  type FindingSeverityCountsDto,
  type FindingStateCountsDto,
  type FindingSummaryGroupDto,
  type FindingSummaryResponseDto,
} from './dto/finding.dto';
import { FINDINGS_PAGE_SIZE_DEFAULT, type ListFindingsDto } from './dto/list-findings.dto';
import { SCANS_PAGE_SIZE_DEFAULT, type ListScansDto } from './dto/list-scans.dto';
import type { ScanPageDto, ScanResponseDto, ScanUploaderDto } from './dto/scan.dto';
import type { FindingSummaryGrouping, SummarizeFindingsDto } from './dto/summarize-findings.dto';
import { FindingHistoryEntity } from './entities/finding-history.entity';
import { FindingEntity, type FindingLocation } from './entities/finding.entity';
import { ScanEntity } from './entities/scan.entity';
import { SEVERITIES, type FindingEvent, type Severity } from './findings.constants';
import { normalizeRepository } from './repository';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The column each grouping counts by; never taken from the request as text. */
const GROUP_COLUMNS: Record<FindingSummaryGrouping, string> = {
  repository: 'f.repository',
  tool: 'f.tool',
};

interface SeverityCountRow {
  severity: Severity;
  open: number;
  fixed: number;
}

interface GroupCountRow extends SeverityCountRow {
  value: string;
}

interface HistoryRow {
  scan_id: string;
  event: FindingEvent;
  at: Date;
  commit_sha: string;
  total: string;
}

/** Uploads store '' for what they did not name; the API says null. */
function named(value: string): string | null {
  return value === '' ? null : value;
}

/** `%`, `_` and the escape character itself match literally (`LIKE … ESCAPE '\'`). */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`);
}

function locationOf(location: FindingLocation | null): FindingLocationResponseDto | null {
  if (!location) return null;
  return {
    path: location.path,
    ...(location.start_line !== undefined && { start_line: location.start_line }),
    ...(location.end_line !== undefined && { end_line: location.end_line }),
    ...(location.start_column !== undefined && { start_column: location.start_column }),
  };
}

export function toFindingResponse(finding: FindingEntity): FindingResponseDto {
  return {
    id: finding.id,
    repository: named(finding.repository),
    ref: named(finding.ref),
    tool: named(finding.tool),
    rule_id: finding.ruleId,
    rule: {
      name: finding.rule?.name ?? null,
      help: finding.rule?.help ?? null,
      help_uri: finding.rule?.helpUri ?? null,
      tags: [...finding.tags],
      cwe: [...finding.cwe],
    },
    title: finding.title,
    severity: finding.severity,
    state: finding.state,
    location: locationOf(finding.location),
    description: finding.description,
    fingerprint: finding.fingerprint,
    identity: finding.identity,
    metadata: finding.metadata,
    occurrences: finding.occurrences,
    first_seen_at: finding.firstSeenAt.toISOString(),
    last_seen_at: finding.lastSeenAt.toISOString(),
    fixed_at: finding.fixedAt?.toISOString() ?? null,
    first_scan_id: finding.firstScanId,
    last_scan_id: finding.lastScanId,
    fixed_scan_id: finding.fixedScanId,
    client_id: finding.clientId,
  };
}

function uploaderOf(scan: ScanEntity): ScanUploaderDto {
  if (scan.apiKeyId !== null) return { kind: 'api_key', api_key_id: scan.apiKeyId, client_id: scan.clientId };
  // The scans_uploader check guarantees a user id whenever there is no key.
  return { kind: 'user', user_id: scan.userId ?? '' };
}

export function toScanResponse(scan: ScanEntity): ScanResponseDto {
  return {
    id: scan.id,
    status: scan.status,
    format: scan.format,
    repository: named(scan.repository),
    ref: named(scan.ref),
    commit: named(scan.commitSha),
    tools: scan.tools.map((tool) => ({ name: tool.name, version: tool.version ?? null })),
    results: scan.results,
    new: scan.newCount,
    unchanged: scan.unchangedCount,
    fixed: scan.fixedCount,
    reopened: scan.reopenedCount,
    received_bytes: scan.receivedBytes,
    attempts: scan.attempts,
    error: scan.error
      ? {
          code: scan.error.code,
          message: scan.error.message,
          ...(scan.error.details !== undefined && { details: scan.error.details }),
        }
      : null,
    uploaded_by: uploaderOf(scan),
    received_at: scan.receivedAt.toISOString(),
    started_at: scan.startedAt?.toISOString() ?? null,
    completed_at: scan.completedAt?.toISOString() ?? null,
    duration_ms:
      scan.startedAt && scan.completedAt ? scan.completedAt.getTime() - scan.startedAt.getTime() : null,
  };
}

function noCounts(): FindingStateCountsDto {
  return { open: 0, fixed: 0 };
}

function severityCountsOf(rows: readonly SeverityCountRow[]): {
  total: FindingStateCountsDto;
  by_severity: FindingSeverityCountsDto;
} {
  const bySeverity = Object.fromEntries(SEVERITIES.map((severity) => [severity, noCounts()])) as Record<
    Severity,
    FindingStateCountsDto
  >;
  const total = noCounts();
  for (const row of rows) {
    bySeverity[row.severity].open += row.open;
    bySeverity[row.severity].fixed += row.fixed;
    total.open += row.open;
    total.fixed += row.fixed;
  }
  return { total, by_severity: bySeverity };
}

/** A WHERE clause over `findings f` built with numbered parameters, for the raw summary statements. */
class Conditions {
  readonly clauses: string[] = [];
  readonly parameters: unknown[] = [];

  add(sql: (placeholder: string) => string, value: unknown): void {
    this.parameters.push(value);
    this.clauses.push(sql(`$${this.parameters.length}`));
  }

  get where(): string {
    return this.clauses.join(' AND ');
  }
}

/**
 * The read side of findings and scans. Every statement is bounded by the caller's organization, so another
 * organization's ids answer 404 and never appear in a list; ids that are not UUIDs answer the same 404 without
 * reaching PostgreSQL.
 */
@Injectable()
export class FindingsQueryService {
  constructor(
    @InjectRepository(FindingEntity) private readonly findings: Repository<FindingEntity>,
    @InjectRepository(ScanEntity) private readonly scans: Repository<ScanEntity>,
    @InjectRepository(FindingHistoryEntity) private readonly history: Repository<FindingHistoryEntity>,
  ) {}

  /** Newest first seen first, then by id: a stable order that the keyset cursor continues exactly. */
  async listFindings(organizationId: string, query: ListFindingsDto): Promise<FindingPageDto> {
    const limit = query.limit ?? FINDINGS_PAGE_SIZE_DEFAULT;
    const builder = this.findings
      .createQueryBuilder('f')
      .leftJoinAndSelect('f.rule', 'r')
      .where('f.organization_id = :organizationId', { organizationId })
      .orderBy('f.first_seen_at', 'DESC')
      .addOrderBy('f.id', 'DESC')
      .limit(limit + 1);
    if (query.state) builder.andWhere('f.state = :state', { state: query.state });
    if (query.severity && query.severity.length > 0) {
      builder.andWhere('f.severity IN (:...severities)', { severities: query.severity });
    }
    if (query.tool) builder.andWhere('f.tool = :tool', { tool: query.tool });
    if (query.rule) builder.andWhere('f.rule_id = :rule', { rule: query.rule });
    if (query.repository !== undefined) {
      builder.andWhere('f.repository = :repository', { repository: normalizeRepository(query.repository) });
    }
    if (query.ref) builder.andWhere('f.ref = :ref', { ref: query.ref });
    if (query.path_prefix) {
      builder.andWhere(`f.location ->> 'path' LIKE :pathPattern ESCAPE '\\'`, {
        pathPattern: `${escapeLike(query.path_prefix)}%`,
      });
    }
    if (query.scan) {
      // What the scan reported; its `fixed` rows are findings it did not see.
      builder.andWhere(
        `EXISTS (SELECT 1 FROM finding_history h
                  WHERE h.finding_id = f.id AND h.scan_id = :scan AND h.event <> 'fixed')`,
        { scan: query.scan },
      );
    }
    if (query.first_seen_after) {
      builder.andWhere('f.first_seen_at >= :firstSeenAfter', { firstSeenAfter: query.first_seen_after });
    }
    if (query.first_seen_before) {
      builder.andWhere('f.first_seen_at < :firstSeenBefore', { firstSeenBefore: query.first_seen_before });
    }
    if (query.cursor) {
      const { at, id } = decodeCursor(query.cursor);
      builder.andWhere('(f.first_seen_at, f.id) < (:at, :id)', { at, id });
    }
    const rows = await builder.getMany();
    return toPage(rows, limit, toFindingResponse, (row) => ({ at: row.firstSeenAt, id: row.id }));
  }

  async getFinding(organizationId: string, id: string): Promise<FindingDetailResponseDto> {
    const finding = UUID.test(id)
      ? await this.findings.findOne({ where: { id, organizationId }, relations: { rule: true } })
      : null;
    if (!finding) throw new GatehouseError('finding_not_found', 'Finding not found');
    const rows: HistoryRow[] = await this.history.query(
      `SELECT h.scan_id, h.event, h.at, s.commit_sha, count(*) OVER () AS total
         FROM finding_history h JOIN scans s ON s.id = h.scan_id
        WHERE h.finding_id = $1
        ORDER BY h.at DESC, h.scan_id DESC
        LIMIT $2`,
      [finding.id, FINDING_HISTORY_MAX],
    );
    const history: FindingHistoryEntryDto[] = rows.map((row) => ({
      scan_id: row.scan_id,
      event: row.event,
      at: row.at.toISOString(),
      commit: named(row.commit_sha),
    }));
    return { ...toFindingResponse(finding), history, history_total: Number(rows[0]?.total ?? 0) };
  }

  /**
   * Counts by severity × state, and per repository or tool when asked: then totals and groups are read in one
   * snapshot, so that the groups add up to the totals (unless truncated).
   */
  async summarize(organizationId: string, query: SummarizeFindingsDto): Promise<FindingSummaryResponseDto> {
    const conditions = new Conditions();
    conditions.add((at) => `f.organization_id = ${at}`, organizationId);
    if (query.repository !== undefined) {
      conditions.add((at) => `f.repository = ${at}`, normalizeRepository(query.repository));
    }
    if (query.ref) conditions.add((at) => `f.ref = ${at}`, query.ref);
    if (query.tool) conditions.add((at) => `f.tool = ${at}`, query.tool);

    const totalsOf = async (manager: EntityManager): Promise<FindingSummaryResponseDto> => {
      const rows: SeverityCountRow[] = await manager.query(
        `SELECT f.severity,
                count(*) FILTER (WHERE f.state = 'open')::int AS open,
                count(*) FILTER (WHERE f.state = 'fixed')::int AS fixed
           FROM findings f
          WHERE ${conditions.where}
          GROUP BY f.severity`,
        conditions.parameters,
      );
      return severityCountsOf(rows);
    };
    const grouping = query.group_by;
    if (!grouping) return totalsOf(this.findings.manager);
    return this.findings.manager.transaction('REPEATABLE READ', async (manager) => {
      const summary = await totalsOf(manager);
      const { groups, truncated } = await this.groupCounts(manager, grouping, conditions);
      return { ...summary, groups, groups_truncated: truncated };
    });
  }

  async listScans(organizationId: string, query: ListScansDto): Promise<ScanPageDto> {
    const limit = query.limit ?? SCANS_PAGE_SIZE_DEFAULT;
    const builder = this.scans
      .createQueryBuilder('s')
      .where('s.organization_id = :organizationId', { organizationId })
      .orderBy('s.received_at', 'DESC')
      .addOrderBy('s.id', 'DESC')
      .limit(limit + 1);
    if (query.status) builder.andWhere('s.status = :status', { status: query.status });
    if (query.repository !== undefined) {
      builder.andWhere('s.repository = :repository', { repository: normalizeRepository(query.repository) });
    }
    if (query.ref) builder.andWhere('s.ref = :ref', { ref: query.ref });
    if (query.cursor) {
      const { at, id } = decodeCursor(query.cursor);
      builder.andWhere('(s.received_at, s.id) < (:at, :id)', { at, id });
    }
    const rows = await builder.getMany();
    return toPage(rows, limit, toScanResponse, (row) => ({ at: row.receivedAt, id: row.id }));
  }

  async getScan(organizationId: string, id: string): Promise<ScanResponseDto> {
    const scan = UUID.test(id) ? await this.scans.findOne({ where: { id, organizationId } }) : null;
    if (!scan) throw new GatehouseError('scan_not_found', 'Scan not found');
    return toScanResponse(scan);
  }

  /** The groups with the most open findings first (then most fixed, then by name), at most the maximum. */
  private async groupCounts(
    manager: EntityManager,
    grouping: FindingSummaryGrouping,
    conditions: Conditions,
  ): Promise<{ groups: FindingSummaryGroupDto[]; truncated: boolean }> {
    const column = GROUP_COLUMNS[grouping];
    const rows: GroupCountRow[] = await manager.query(
      `WITH counts AS (
         SELECT ${column} AS value, f.severity,
                count(*) FILTER (WHERE f.state = 'open')::int AS open,
                count(*) FILTER (WHERE f.state = 'fixed')::int AS fixed
           FROM findings f
          WHERE ${conditions.where}
          GROUP BY 1, 2
       ), ranked AS (
         SELECT value, row_number() OVER (ORDER BY sum(open) DESC, sum(fixed) DESC, value) AS rank
           FROM counts
          GROUP BY value
          ORDER BY rank
          LIMIT ${FINDING_SUMMARY_GROUPS_MAX + 1}
       )
       SELECT c.value, c.severity, c.open, c.fixed
         FROM counts c JOIN ranked r USING (value)
        ORDER BY r.rank`,
      conditions.parameters,
    );
    const byValue = new Map<string, GroupCountRow[]>();
    for (const row of rows) {
      const counts = byValue.get(row.value);
      if (counts) counts.push(row);
      else byValue.set(row.value, [row]);
    }
    const groups = [...byValue].map(([value, counts]): FindingSummaryGroupDto => ({
      [grouping]: named(value),
      ...severityCountsOf(counts),
    }));
    return {
      groups: groups.slice(0, FINDING_SUMMARY_GROUPS_MAX),
      truncated: groups.length > FINDING_SUMMARY_GROUPS_MAX,
    };
  }
}
