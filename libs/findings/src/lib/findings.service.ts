import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { CLOCK, decodeCursor, toPage, type Clock, type KeyPrincipal, type Page } from '@gatehouse/contracts';
import { FindingEntity, type FindingLocation, type Severity } from '@gatehouse/persistence';
import type { IngestFindingsDto } from './dto/ingest-findings.dto';
import type { ListFindingsDto } from './dto/list-findings.dto';

export interface FindingView {
  id: string;
  rule_id: string;
  title: string;
  severity: Severity;
  location: FindingLocation;
  description: string | null;
  tool: string | null;
  fingerprint: string | null;
  metadata: Record<string, unknown> | null;
  client_id: string;
  created_at: string;
}

export interface IngestResult {
  accepted: number;
  findings: FindingView[];
}

function toView(finding: FindingEntity): FindingView {
  return {
    id: finding.id,
    rule_id: finding.ruleId,
    title: finding.title,
    severity: finding.severity,
    location: finding.location,
    description: finding.description,
    tool: finding.tool,
    fingerprint: finding.fingerprint,
    metadata: finding.metadata,
    client_id: finding.clientId,
    created_at: finding.createdAt.toISOString(),
  };
}

@Injectable()
export class FindingsService {
  constructor(
    @InjectRepository(FindingEntity) private readonly findings: Repository<FindingEntity>,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** One multi-row INSERT: the whole upload is stored or none of it is. */
  async ingest(principal: KeyPrincipal, dto: IngestFindingsDto): Promise<IngestResult> {
    const now = this.clock.now();
    const entities = dto.findings.map((finding) =>
      this.findings.create({
        id: randomUUID(),
        organizationId: principal.organizationId,
        apiKeyId: principal.apiKeyId,
        clientId: principal.clientId,
        ruleId: finding.rule_id,
        title: finding.title,
        severity: finding.severity,
        location: {
          path: finding.location.path,
          ...(finding.location.start_line !== undefined && { start_line: finding.location.start_line }),
          ...(finding.location.end_line !== undefined && { end_line: finding.location.end_line }),
        },
        description: finding.description ?? null,
        tool: finding.tool ?? null,
        fingerprint: finding.fingerprint ?? null,
        metadata: finding.metadata ?? null,
        createdAt: now,
      }),
    );
    // jsonb columns typed as records do not fit TypeORM's deep-partial type; the entities are complete.
    await this.findings.insert(entities as QueryDeepPartialEntity<FindingEntity>[]);
    return { accepted: entities.length, findings: entities.map(toView) };
  }

  async list(principal: KeyPrincipal, query: ListFindingsDto): Promise<Page<FindingView>> {
    const limit = query.limit ?? 50;
    const builder = this.findings
      .createQueryBuilder('f')
      .where('f.organization_id = :organizationId', { organizationId: principal.organizationId })
      .orderBy('f.created_at', 'DESC')
      .addOrderBy('f.id', 'DESC')
      .take(limit + 1);
    if (query.severity) builder.andWhere('f.severity = :severity', { severity: query.severity });
    if (query.cursor) {
      const { at, id } = decodeCursor(query.cursor);
      builder.andWhere('(f.created_at, f.id) < (:at, :id)', { at, id });
    }
    const rows = await builder.getMany();
    return toPage(rows, limit, toView, (row) => ({ at: row.createdAt, id: row.id }));
  }
}
