/** What an endpoint may subscribe to. `webhook.ping` is never subscribed: it is sent on request only (test). */
export const WEBHOOK_EVENT_TYPES = [
  'api_key.created',
  'api_key.rotated',
  'api_key.rotation_finished',
  'api_key.disabled',
  'api_key.enabled',
  'api_key.revoked',
  'api_key.deleted',
  'api_key.leaked',
  'api_key.expiring',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const WEBHOOK_PING = 'webhook.ping';

const EVENT_SET: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES);

/** Audit actions that are also webhook events share their name; the others (rate limits, IPs) send nothing. */
export function webhookEventOf(auditAction: string): WebhookEventType | undefined {
  return EVENT_SET.has(auditAction) && auditAction !== 'api_key.expiring'
    ? (auditAction as WebhookEventType)
    : undefined;
}

/** The body of every delivery, as the Standard Webhooks specification suggests: type, timestamp, data. */
export interface WebhookPayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}
