import { ApiError, toApiError } from './api-error';
import type { ApiKey, Page } from './types';

/** Returns the current access token, or null when nobody is signed in. */
export type TokenSource = () => string | null;

/** fetch, narrowed to what the client calls it with (tests pass a fake). */
export type Fetch = (path: string, init: RequestInit) => Promise<Response>;

export const API_KEYS_PAGE_SIZE = 20;

/** The admin API through the gateway, on the dashboard's own origin (the CSP allows no other). */
export class ApiClient {
  constructor(
    private readonly token: TokenSource,
    private readonly fetchImpl: Fetch = (path, init) => fetch(path, init),
  ) {}

  listApiKeys(cursor: string | null): Promise<Page<ApiKey>> {
    const query = new URLSearchParams({ limit: String(API_KEYS_PAGE_SIZE) });
    if (cursor) query.set('cursor', cursor);
    return this.request<Page<ApiKey>>('GET', `/api/v1/api-keys?${query.toString()}`);
  }

  private async request<T>(method: string, path: string): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.token();
    if (token) headers['authorization'] = `Bearer ${token}`;
    let response: Response;
    try {
      response = await this.fetchImpl(path, { method, headers });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError(0, 'network_error', `The gateway could not be reached: ${reason}`, null);
    }
    if (!response.ok) throw await toApiError(response);
    return (await response.json()) as T;
  }
}
