/**
 * The admin API's shapes the dashboard reads (snake_case, as on the wire), kept by hand in step with the OpenAPI
 * document (libs/api-client/src/generated/schema.d.ts): the dashboard builds with its own tsconfig, outside the
 * workspace's path aliases.
 */

export const PERMISSIONS = ['read:keys', 'write:keys', 'read:findings', 'write:findings'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export type ApiKeyState = 'active' | 'rotating' | 'disabled' | 'revoked';
export type ApiKeyStatus = ApiKeyState | 'expired';
export type ExpiryStatus = 'active' | 'expiring_soon' | 'expired';
export type Environment = 'live' | 'test';

export interface ApiKeyRotation {
  previous_preview: string;
  previous_retires_at: string;
  rotated_at: string;
}

export interface ApiKeyRateLimit {
  requests_per_minute: number;
  burst: number;
  source: 'plan' | 'override';
}

export interface ApiKey {
  id: string;
  name: string;
  client_id: string;
  preview: string;
  permissions: Permission[];
  environment: Environment;
  status: ApiKeyStatus;
  state: ApiKeyState;
  expiry_status: ExpiryStatus;
  key_version: number;
  rotation: ApiKeyRotation | null;
  created_at: string;
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
  enabled: boolean;
  disabled_at: string | null;
  allowed_ips: string[];
  last_used_at: string | null;
  last_used_ip: string | null;
  rate_limit: ApiKeyRateLimit;
  description: string | null;
  metadata: Record<string, string>;
}

/** A key as created or rotated: the secret is in this answer only. */
export interface CreatedApiKey extends ApiKey {
  api_key: string;
}

export interface CreateApiKeyBody {
  name: string;
  client_id: string;
  permissions: Permission[];
  environment: Environment;
  expires_at?: string;
  description?: string;
  metadata?: Record<string, string>;
}

/** PATCH /api/v1/api-keys/{id}: fields left out keep their value; a null description removes it. */
export interface UpdateApiKeyBody {
  name?: string;
  description?: string | null;
  metadata?: Record<string, string>;
}

export type KeyListStatus = ApiKeyStatus | 'expiring_soon';
export type KeySort = 'created_at' | 'last_used_at' | 'name';

export interface KeyListQuery {
  status?: KeyListStatus;
  environment?: Environment;
  q?: string;
  sort?: KeySort;
  order?: 'asc' | 'desc';
}

export interface ApiKeyUsage {
  occurred_at: string;
  outcome: string;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

export interface AuditEvent {
  id: string;
  occurred_at: string;
  actor_type: 'user' | 'api_key' | 'system';
  actor: string;
  action: string;
  target_type: 'api_key' | 'organization' | 'webhook';
  target_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown> | null;
}

export interface AuditQuery {
  action?: string;
  actor_type?: 'user' | 'api_key' | 'system';
  actor?: string;
  target_id?: string;
  since?: string;
  until?: string;
}

export interface Me {
  kind: 'user' | 'api_key';
  subject: string;
  user_id?: string;
  api_key_id?: string;
  organization: { id: string; name: string; plan: 'starter' | 'pro' | 'enterprise' };
  role?: 'owner' | 'admin' | 'member' | 'viewer';
  permissions: Permission[];
}

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];
export type FindingState = 'open' | 'fixed';

export interface StateCounts {
  open: number;
  fixed: number;
}

export interface FindingSummary {
  total: StateCounts;
  by_severity: Record<Severity, StateCounts>;
}

export interface Finding {
  id: string;
  repository: string | null;
  ref: string | null;
  tool: string | null;
  rule_id: string;
  title: string;
  severity: Severity;
  state: FindingState;
  location: { path: string; start_line?: number; end_line?: number } | null;
  first_seen_at: string;
  last_seen_at: string;
  fixed_at: string | null;
  occurrences: number;
}

export interface FindingQuery {
  state?: FindingState;
  severity?: Severity;
  repository?: string;
  tool?: string;
}

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

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string;
  event_types: WebhookEventType[];
  enabled: boolean;
  expiring_within_days: number;
  created_at: string;
  created_by: string;
  updated_at: string;
  secret_rotated_at: string | null;
}

export interface CreatedWebhookEndpoint extends WebhookEndpoint {
  secret: string;
}

export interface CreateWebhookBody {
  url: string;
  description?: string;
  event_types: WebhookEventType[];
}

export interface WebhookDelivery {
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
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Every error of the suite has this body. */
export interface ErrorBody {
  error: string;
  message: string;
  request_id: string;
}
