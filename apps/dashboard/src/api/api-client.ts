import { ApiError, toApiError } from './api-error';
import type {
  ApiKey,
  ApiKeyUsage,
  AuditEvent,
  AuditQuery,
  CreateApiKeyBody,
  CreateWebhookBody,
  CreatedApiKey,
  CreatedWebhookEndpoint,
  Finding,
  FindingQuery,
  FindingSummary,
  KeyListQuery,
  Me,
  Page,
  UpdateApiKeyBody,
  WebhookDelivery,
  WebhookEndpoint,
} from './types';

/** Returns the current access token, or null when nobody is signed in. */
export type TokenSource = () => string | null;

/** fetch, narrowed to what the client calls it with (tests pass a fake). */
export type Fetch = (path: string, init: RequestInit) => Promise<Response>;

export const API_KEYS_PAGE_SIZE = 20;
export const LOG_PAGE_SIZE = 50;

type Query = Record<string, string | undefined>;

function withQuery(path: string, query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value) params.set(name, value);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

const keyPath = (id: string) => `/api/v1/api-keys/${encodeURIComponent(id)}`;
const webhookPath = (id: string) => `/api/v1/webhooks/${encodeURIComponent(id)}`;

/** The admin API through the gateway, on the dashboard's own origin (the CSP allows no other). */
export class ApiClient {
  constructor(
    private readonly token: TokenSource,
    private readonly fetchImpl: Fetch = (path, init) => fetch(path, init),
  ) {}

  me(): Promise<Me> {
    return this.json('GET', '/api/v1/me');
  }

  listApiKeys(query: KeyListQuery, cursor: string | null): Promise<Page<ApiKey>> {
    return this.json(
      'GET',
      withQuery('/api/v1/api-keys', {
        limit: String(API_KEYS_PAGE_SIZE),
        ...query,
        cursor: cursor ?? undefined,
      }),
    );
  }

  getApiKey(id: string): Promise<ApiKey> {
    return this.json('GET', keyPath(id));
  }

  createApiKey(body: CreateApiKeyBody): Promise<CreatedApiKey> {
    return this.json('POST', '/api/v1/api-keys', body);
  }

  updateApiKey(id: string, body: UpdateApiKeyBody): Promise<ApiKey> {
    return this.json('PATCH', keyPath(id), body);
  }

  rotateApiKey(id: string, gracePeriodSeconds: number): Promise<CreatedApiKey> {
    return this.json('POST', `${keyPath(id)}/rotate`, { grace_period_seconds: gracePeriodSeconds });
  }

  finishRotation(id: string): Promise<ApiKey> {
    return this.json('POST', `${keyPath(id)}/rotate/finish`);
  }

  disableApiKey(id: string): Promise<ApiKey> {
    return this.json('POST', `${keyPath(id)}/disable`);
  }

  enableApiKey(id: string): Promise<ApiKey> {
    return this.json('POST', `${keyPath(id)}/enable`);
  }

  revokeApiKey(id: string): Promise<ApiKey> {
    return this.json('POST', `${keyPath(id)}/revoke`);
  }

  async deleteApiKey(id: string): Promise<void> {
    await this.send('DELETE', keyPath(id));
  }

  setRateLimit(id: string, requestsPerMinute: number, burst: number): Promise<ApiKey> {
    return this.json('PUT', `${keyPath(id)}/rate-limit`, { requests_per_minute: requestsPerMinute, burst });
  }

  clearRateLimit(id: string): Promise<ApiKey> {
    return this.json('DELETE', `${keyPath(id)}/rate-limit`);
  }

  listUsage(id: string, cursor: string | null): Promise<Page<ApiKeyUsage>> {
    return this.json(
      'GET',
      withQuery(`${keyPath(id)}/usage`, { limit: String(LOG_PAGE_SIZE), cursor: cursor ?? undefined }),
    );
  }

  listAuditEvents(query: AuditQuery, cursor: string | null): Promise<Page<AuditEvent>> {
    return this.json(
      'GET',
      withQuery('/api/v1/audit-events', {
        limit: String(LOG_PAGE_SIZE),
        ...query,
        cursor: cursor ?? undefined,
      }),
    );
  }

  /** Every event the filters select, as the API exports them: NDJSON, one event per line. */
  async exportAuditEvents(query: AuditQuery): Promise<string> {
    const response = await this.send(
      'GET',
      withQuery('/api/v1/audit-events/export', { ...query }),
      'application/x-ndjson',
    );
    return response.text();
  }

  findingsSummary(): Promise<FindingSummary> {
    return this.json('GET', '/api/v1/findings/summary');
  }

  listFindings(query: FindingQuery, cursor: string | null): Promise<Page<Finding>> {
    return this.json(
      'GET',
      withQuery('/api/v1/findings', { limit: String(LOG_PAGE_SIZE), ...query, cursor: cursor ?? undefined }),
    );
  }

  listWebhooks(cursor: string | null): Promise<Page<WebhookEndpoint>> {
    return this.json(
      'GET',
      withQuery('/api/v1/webhooks', { limit: String(LOG_PAGE_SIZE), cursor: cursor ?? undefined }),
    );
  }

  createWebhook(body: CreateWebhookBody): Promise<CreatedWebhookEndpoint> {
    return this.json('POST', '/api/v1/webhooks', body);
  }

  async deleteWebhook(id: string): Promise<void> {
    await this.send('DELETE', webhookPath(id));
  }

  listDeliveries(id: string, cursor: string | null): Promise<Page<WebhookDelivery>> {
    return this.json(
      'GET',
      withQuery(`${webhookPath(id)}/deliveries`, {
        limit: String(LOG_PAGE_SIZE),
        cursor: cursor ?? undefined,
      }),
    );
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, 'application/json', body);
    return (await response.json()) as T;
  }

  private async send(
    method: string,
    path: string,
    accept = 'application/json',
    body?: unknown,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept };
    const token = this.token();
    if (token) headers['authorization'] = `Bearer ${token}`;
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await this.fetchImpl(path, init);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError(0, 'network_error', `The gateway could not be reached: ${reason}`, null);
    }
    if (!response.ok) throw await toApiError(response);
    return response;
  }
}
