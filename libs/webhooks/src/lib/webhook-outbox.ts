import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { CLOCK, type Clock } from '@gatehouse/contracts';
import type { WebhookPayload } from './webhook-events';

interface KeyRow {
  id: string;
  name: string;
  client_id: string;
  environment: string;
  key_version: number;
  expires_at: Date | null;
}

/**
 * Writes events to the outbox (`webhook_events`, and one pending `webhook_deliveries` row per endpoint that
 * subscribed), always with the caller's transaction manager: the event commits or rolls back with the change
 * it reports, and a process that dies after the commit leaves it stored for any delivery worker.
 */
@Injectable()
export class WebhookOutbox {
  constructor(@Inject(CLOCK) private readonly clock: Clock) {}

  /** A key event for every enabled endpoint of the organization subscribed to `type`; nothing when none is. */
  async emitKeyEvent(
    manager: EntityManager,
    organizationId: string,
    type: string,
    apiKeyId: string,
    extra: Record<string, unknown>,
  ): Promise<void> {
    const endpoints: { id: string }[] = await manager.query(
      `SELECT id FROM webhook_endpoints WHERE organization_id = $1 AND enabled AND $2 = ANY (event_types)`,
      [organizationId, type],
    );
    if (endpoints.length === 0) return;
    const [key]: KeyRow[] = await manager.query(
      `SELECT id, name, client_id, environment, key_version, expires_at FROM api_keys WHERE id = $1`,
      [apiKeyId],
    );
    await this.emit(
      manager,
      organizationId,
      type,
      { api_key: key ? keyData(key) : { id: apiKeyId }, ...extra },
      endpoints.map((endpoint) => endpoint.id),
    );
  }

  /** Stores one event and a pending delivery of it to each of `endpointIds`; returns the event's id. */
  async emit(
    manager: EntityManager,
    organizationId: string,
    type: string,
    data: Record<string, unknown>,
    endpointIds: readonly string[],
  ): Promise<{ eventId: string; deliveryIds: string[] }> {
    const now = this.clock.now();
    const eventId = randomUUID();
    const payload: WebhookPayload = { type, timestamp: now.toISOString(), data };
    await manager.query(
      `INSERT INTO webhook_events (id, organization_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
      [eventId, organizationId, type, JSON.stringify(payload), now],
    );
    const deliveryIds: string[] = [];
    for (const endpointId of endpointIds) {
      const id = randomUUID();
      deliveryIds.push(id);
      await manager.query(
        `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4, $4)`,
        [id, endpointId, eventId, now],
      );
    }
    return { eventId, deliveryIds };
  }
}

export function keyData(key: KeyRow): Record<string, unknown> {
  return {
    id: key.id,
    name: key.name,
    client_id: key.client_id,
    environment: key.environment,
    key_version: key.key_version,
    expires_at: key.expires_at ? new Date(key.expires_at).toISOString() : null,
  };
}
