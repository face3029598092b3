import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { CLOCK, decodeCursor, GatehouseError, toPage, type Clock, type Page } from '@gatehouse/contracts';
import { AuditEventEntity, type AuditActorType } from '@gatehouse/persistence';
import {
  WEBHOOK_PAGE_SIZE_DEFAULT,
  type CreateWebhookDto,
  type ListWebhookPageDto,
  type UpdateWebhookDto,
} from './dto/webhook-endpoint.dto';
import { WebhookEndpointEntity } from './entities/webhook-endpoint.entity';
import { generateWebhookSecret, WebhookSecretBox } from './signature';
import { assertDeliverableUrl } from './url-safety';
import { WEBHOOK_PING } from './webhook-events';
import { WebhookOutbox } from './webhook-outbox';
import {
  EXPIRING_WITHIN_DAYS_DEFAULT,
  WEBHOOK_ENDPOINTS_MAX,
  WEBHOOKS_OPTIONS,
  type WebhooksOptions,
} from './webhooks.options';

/** What the audit trail records of endpoint changes, with target type `webhook`. */
export const WEBHOOK_AUDIT_ACTIONS = [
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.secret_rotated',
] as const;
type WebhookAuditAction = (typeof WEBHOOK_AUDIT_ACTIONS)[number];

/** Who changes an endpoint, as the audit trail records it (the admin-api's Actor fits). */
export interface WebhookActor {
  organizationId: string;
  type: AuditActorType;
  subject: string;
  ip: string | null;
  requestId: string | null;
}

export interface WebhookEndpointView {
  id: string;
  url: string;
  description: string;
  event_types: string[];
  enabled: boolean;
  expiring_within_days: number;
  created_at: string;
  created_by: string;
  updated_at: string;
  secret_rotated_at: string | null;
}

export interface CreatedWebhookEndpointView extends WebhookEndpointView {
  /** `whsec_…`: returned by creation and rotation only. */
  secret: string;
}

export interface WebhookAttemptView {
  attempt: number;
  attempted_at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface WebhookDeliveryView {
  id: string;
  event_id: string;
  event_type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  completed_at: string | null;
  attempt_log: WebhookAttemptView[];
}

export interface WebhookTestView {
  event_id: string;
  delivery_id: string;
}

interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  status: WebhookDeliveryView['status'];
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  completed_at: Date | null;
}

interface AttemptRow {
  delivery_id: string;
  attempt: number;
  attempted_at: Date;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toView(endpoint: WebhookEndpointEntity): WebhookEndpointView {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    event_types: endpoint.eventTypes,
    enabled: endpoint.enabled,
    expiring_within_days: endpoint.expiringWithinDays,
    created_at: endpoint.createdAt.toISOString(),
    created_by: endpoint.createdBy,
    updated_at: endpoint.updatedAt.toISOString(),
    secret_rotated_at: endpoint.secretRotatedAt?.toISOString() ?? null,
  };
}

/** An organization's webhook endpoints: every change audited, every lookup scoped to the caller's organization. */
@Injectable()
export class WebhooksService {
  private readonly box: WebhookSecretBox;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly outbox: WebhookOutbox,
    @Inject(WEBHOOKS_OPTIONS) private readonly options: WebhooksOptions,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.box = new WebhookSecretBox(options.encryptionKey);
  }

  async create(actor: WebhookActor, dto: CreateWebhookDto): Promise<CreatedWebhookEndpointView> {
    const url = await assertDeliverableUrl(dto.url, this.options.urlPolicy);
    const secret = generateWebhookSecret();
    const now = this.clock.now();
    const endpoint = await this.dataSource.transaction(async (manager) => {
      // Serializes creations per organization, so that the limit holds under concurrent requests.
      await manager.query(`SELECT id FROM organizations WHERE id = $1 FOR UPDATE`, [actor.organizationId]);
      const count = await manager.count(WebhookEndpointEntity, {
        where: { organizationId: actor.organizationId },
      });
      if (count >= WEBHOOK_ENDPOINTS_MAX) {
        throw new GatehouseError(
          'limit_exceeded',
          `An organization may have at most ${WEBHOOK_ENDPOINTS_MAX} webhook endpoints`,
        );
      }
      const created = manager.create(WebhookEndpointEntity, {
        id: randomUUID(),
        organizationId: actor.organizationId,
        url: url.toString(),
        description: dto.description ?? '',
        eventTypes: dto.event_types,
        enabled: dto.enabled ?? true,
        expiringWithinDays: dto.expiring_within_days ?? EXPIRING_WITHIN_DAYS_DEFAULT,
        secretSealed: this.box.seal(secret),
        createdAt: now,
        createdBy: actor.subject,
        updatedAt: now,
        secretRotatedAt: null,
      });
      await manager.insert(WebhookEndpointEntity, created);
      await this.audit(manager, actor, 'webhook.created', created.id, {
        url: created.url,
        event_types: created.eventTypes,
      });
      return created;
    });
    return { ...toView(endpoint), secret };
  }

  async list(organizationId: string, query: ListWebhookPageDto): Promise<Page<WebhookEndpointView>> {
    const limit = query.limit ?? WEBHOOK_PAGE_SIZE_DEFAULT;
    const builder = this.dataSource
      .getRepository(WebhookEndpointEntity)
      .createQueryBuilder('w')
      .where('w.organization_id = :organizationId', { organizationId })
      .orderBy('w.created_at', 'DESC')
      .addOrderBy('w.id', 'DESC')
      .take(limit + 1);
    if (query.cursor) {
      const { at, id } = decodeCursor(query.cursor);
      builder.andWhere('(w.created_at, w.id) < (:at, :id)', { at, id });
    }
    return toPage(await builder.getMany(), limit, toView, (row) => ({ at: row.createdAt, id: row.id }));
  }

  async get(organizationId: string, id: string): Promise<WebhookEndpointView> {
    return toView(await this.find(this.dataSource.manager, organizationId, id));
  }

  async update(actor: WebhookActor, id: string, dto: UpdateWebhookDto): Promise<WebhookEndpointView> {
    const url =
      dto.url === undefined ? undefined : await assertDeliverableUrl(dto.url, this.options.urlPolicy);
    return this.dataSource.transaction(async (manager) => {
      const endpoint = await this.find(manager, actor.organizationId, id, true);
      const changes: Partial<WebhookEndpointEntity> = {
        ...(url && { url: url.toString() }),
        ...(dto.description !== undefined && { description: dto.description }),
        ...(dto.event_types && { eventTypes: dto.event_types }),
        ...(dto.enabled !== undefined && { enabled: dto.enabled }),
        ...(dto.expiring_within_days !== undefined && { expiringWithinDays: dto.expiring_within_days }),
        updatedAt: this.clock.now(),
      };
      await manager.update(WebhookEndpointEntity, { id: endpoint.id }, changes);
      const { updatedAt: _updatedAt, ...changed } = changes;
      await this.audit(manager, actor, 'webhook.updated', endpoint.id, {
        changed: Object.keys(changed),
      });
      return toView(Object.assign(endpoint, changes));
    });
  }

  /** Its pending deliveries go with it. */
  async delete(actor: WebhookActor, id: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const endpoint = await this.find(manager, actor.organizationId, id, true);
      await manager.delete(WebhookEndpointEntity, { id: endpoint.id });
      await this.audit(manager, actor, 'webhook.deleted', endpoint.id, { url: endpoint.url });
    });
  }

  /** A new secret at once, returned this once; deliveries from now on are signed with it. */
  async rotateSecret(actor: WebhookActor, id: string): Promise<CreatedWebhookEndpointView> {
    const secret = generateWebhookSecret();
    const now = this.clock.now();
    const endpoint = await this.dataSource.transaction(async (manager) => {
      const locked = await this.find(manager, actor.organizationId, id, true);
      const changes = { secretSealed: this.box.seal(secret), secretRotatedAt: now, updatedAt: now };
      await manager.update(WebhookEndpointEntity, { id: locked.id }, changes);
      await this.audit(manager, actor, 'webhook.secret_rotated', locked.id);
      return Object.assign(locked, changes);
    });
    return { ...toView(endpoint), secret };
  }

  /** Queues a `webhook.ping` to this endpoint alone (even if disabled for other events it waits until enabled). */
  async test(actor: WebhookActor, id: string): Promise<WebhookTestView> {
    return this.dataSource.transaction(async (manager) => {
      const endpoint = await this.find(manager, actor.organizationId, id);
      const { eventId, deliveryIds } = await this.outbox.emit(
        manager,
        actor.organizationId,
        WEBHOOK_PING,
        { webhook_id: endpoint.id },
        [endpoint.id],
      );
      return { event_id: eventId, delivery_id: deliveryIds[0] };
    });
  }

  /** The delivery log, newest first, each delivery with its attempts. */
  async deliveries(
    organizationId: string,
    id: string,
    query: ListWebhookPageDto,
  ): Promise<Page<WebhookDeliveryView>> {
    const endpoint = await this.find(this.dataSource.manager, organizationId, id);
    const limit = query.limit ?? WEBHOOK_PAGE_SIZE_DEFAULT;
    const params: unknown[] = [endpoint.id, limit + 1];
    let keyset = '';
    if (query.cursor) {
      const { at, id: lastId } = decodeCursor(query.cursor);
      params.push(at, lastId);
      keyset = 'AND (d.created_at, d.id) < ($3, $4)';
    }
    const rows: DeliveryRow[] = await this.dataSource.query(
      `SELECT d.id, d.event_id, e.type AS event_type, d.status, d.attempts, d.next_attempt_at, d.last_status_code,
              d.last_error, d.created_at, d.completed_at
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
        WHERE d.endpoint_id = $1 ${keyset}
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT $2`,
      params,
    );
    const attempts: AttemptRow[] = rows.length
      ? await this.dataSource.query(
          `SELECT delivery_id, attempt, attempted_at, status_code, error, duration_ms
             FROM webhook_delivery_attempts WHERE delivery_id = ANY ($1::uuid[]) ORDER BY attempt`,
          [rows.map((row) => row.id)],
        )
      : [];
    return toPage(
      rows,
      limit,
      (row) => ({
        id: row.id,
        event_id: row.event_id,
        event_type: row.event_type,
        status: row.status,
        attempts: row.attempts,
        next_attempt_at: row.status === 'pending' ? new Date(row.next_attempt_at).toISOString() : null,
        last_status_code: row.last_status_code,
        last_error: row.last_error,
        created_at: new Date(row.created_at).toISOString(),
        completed_at: row.completed_at ? new Date(row.completed_at).toISOString() : null,
        attempt_log: attempts
          .filter((attempt) => attempt.delivery_id === row.id)
          .map((attempt) => ({
            attempt: attempt.attempt,
            attempted_at: new Date(attempt.attempted_at).toISOString(),
            status_code: attempt.status_code,
            error: attempt.error,
            duration_ms: attempt.duration_ms,
          })),
      }),
      (row) => ({ at: new Date(row.created_at), id: row.id }),
    );
  }

  /** Another organization's endpoint and a malformed id answer the same 404. */
  private async find(
    manager: EntityManager,
    organizationId: string,
    id: string,
    lock = false,
  ): Promise<WebhookEndpointEntity> {
    const endpoint = UUID.test(id)
      ? await manager.findOne(WebhookEndpointEntity, {
          where: { id, organizationId },
          ...(lock && { lock: { mode: 'pessimistic_write' as const } }),
        })
      : null;
    if (!endpoint) throw new GatehouseError('not_found', 'Webhook endpoint not found');
    return endpoint;
  }

  private async audit(
    manager: EntityManager,
    actor: WebhookActor,
    action: WebhookAuditAction,
    targetId: string,
    details?: Record<string, unknown>,
  ): Promise<void> {
    const event = manager.create(AuditEventEntity, {
      id: randomUUID(),
      organizationId: actor.organizationId,
      occurredAt: this.clock.now(),
      actorType: actor.type,
      actor: actor.subject,
      action,
      targetType: 'webhook',
      targetId,
      ip: actor.ip,
      requestId: actor.requestId,
      details: details ?? null,
    });
    // jsonb columns typed as records do not fit TypeORM's deep-partial type; the entity is complete.
    await manager.insert(AuditEventEntity, event as QueryDeepPartialEntity<AuditEventEntity>);
  }
}
