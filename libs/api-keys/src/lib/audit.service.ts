import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository, SelectQueryBuilder } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { CLOCK, decodeCursor, toPage, type Clock, type Page } from '@gatehouse/contracts';
import { AuditEventEntity } from '@gatehouse/persistence';
import { webhookEventOf, WebhookOutbox } from '@gatehouse/webhooks';
import type { Actor } from './actor';
import { AUDIT_EXPORT_MAX, type ListAuditEventsDto } from './dto/list-audit-events.dto';

export const AUDIT_ACTIONS = [
  'organization.bootstrapped',
  'api_key.created',
  'api_key.rotated',
  'api_key.rotation_finished',
  'api_key.revoked',
  'api_key.deleted',
  // details: { before, after }, each the effective limit { requests_per_minute, burst, source }
  'api_key.rate_limit_set',
  'api_key.rate_limit_cleared',
  'api_key.disabled',
  'api_key.enabled',
  // details: { before, after }, each the normalized allowed_ips (empty: unrestricted)
  'api_key.allowed_ips_changed',
  // details: { url, source, type, secret: current | previous }; an api_key.revoked event follows
  'api_key.leaked',
  // details: per field changed (name, description, metadata), { before, after }; fields left alone are absent
  'api_key.updated',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEventView {
  id: string;
  occurred_at: string;
  actor_type: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown> | null;
}

function toView(event: AuditEventEntity): AuditEventView {
  return {
    id: event.id,
    occurred_at: event.occurredAt.toISOString(),
    actor_type: event.actorType,
    actor: event.actor,
    action: event.action,
    target_type: event.targetType,
    target_id: event.targetId,
    ip: event.ip,
    request_id: event.requestId,
    details: event.details,
  };
}

const EXPORT_PAGE_SIZE = 200;

/** The audit trail: one row per mutation, written in the mutation's own transaction. */
@Injectable()
export class AuditService {
  constructor(
    @InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() private readonly webhooks?: WebhookOutbox,
  ) {}

  /** Key events also go to the webhook outbox, in the same transaction: both commit or neither does. */
  async record(
    manager: EntityManager,
    actor: Actor,
    action: AuditAction,
    target: { type: 'api_key' | 'organization'; id: string },
    details?: Record<string, unknown>,
  ): Promise<void> {
    const event = manager.create(AuditEventEntity, {
      id: randomUUID(),
      organizationId: actor.organizationId,
      occurredAt: this.clock.now(),
      actorType: actor.type,
      actor: actor.subject,
      action,
      targetType: target.type,
      targetId: target.id,
      ip: actor.ip,
      requestId: actor.requestId,
      details: details ?? null,
    });
    // jsonb columns typed as records do not fit TypeORM's deep-partial type; the entity is complete.
    await manager.insert(AuditEventEntity, event as QueryDeepPartialEntity<AuditEventEntity>);
    const webhookEvent = webhookEventOf(action);
    if (webhookEvent && target.type === 'api_key' && this.webhooks) {
      await this.webhooks.emitKeyEvent(manager, actor.organizationId, webhookEvent, target.id, {
        actor: actor.subject,
        details: details ?? null,
      });
    }
  }

  async list(organizationId: string, query: ListAuditEventsDto): Promise<Page<AuditEventView>> {
    const limit = query.limit ?? 50;
    const rows = await this.filtered(organizationId, query)
      .take(limit + 1)
      .getMany();
    return toPage(rows, limit, toView, (row) => ({ at: row.occurredAt, id: row.id }));
  }

  /**
   * JSON lines for a SIEM, newest first, read in pages so memory stays flat. The first page is read before
   * anything is streamed, so a bad filter or cursor still answers a JSON error rather than a broken download.
   */
  async export(organizationId: string, query: ListAuditEventsDto): Promise<AsyncIterable<string>> {
    const first = await this.list(organizationId, { ...query, limit: EXPORT_PAGE_SIZE });
    return this.lines(organizationId, query, first);
  }

  private async *lines(
    organizationId: string,
    query: ListAuditEventsDto,
    first: Page<AuditEventView>,
  ): AsyncGenerator<string> {
    let page = first;
    let sent = 0;
    for (;;) {
      for (const event of page.data) yield `${JSON.stringify(event)}\n`;
      sent += page.data.length;
      if (!page.next_cursor || sent >= AUDIT_EXPORT_MAX) return;
      page = await this.list(organizationId, { ...query, cursor: page.next_cursor, limit: EXPORT_PAGE_SIZE });
    }
  }

  private filtered(organizationId: string, query: ListAuditEventsDto): SelectQueryBuilder<AuditEventEntity> {
    const builder = this.events
      .createQueryBuilder('e')
      .where('e.organization_id = :organizationId', { organizationId })
      .orderBy('e.occurred_at', 'DESC')
      .addOrderBy('e.id', 'DESC');
    if (query.action) builder.andWhere('e.action = :action', { action: query.action });
    if (query.actor_type) builder.andWhere('e.actor_type = :actorType', { actorType: query.actor_type });
    if (query.actor) builder.andWhere('e.actor = :actor', { actor: query.actor });
    if (query.target_id) builder.andWhere('e.target_id = :targetId', { targetId: query.target_id });
    if (query.since) builder.andWhere('e.occurred_at >= :since', { since: query.since });
    if (query.until) builder.andWhere('e.occurred_at < :until', { until: query.until });
    if (query.cursor) {
      const { at, id } = decodeCursor(query.cursor);
      builder.andWhere('(e.occurred_at, e.id) < (:at, :id)', { at, id });
    }
    return builder;
  }
}
