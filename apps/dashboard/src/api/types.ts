/** The admin API's shapes the dashboard reads (snake_case, as on the wire). */

export type ApiKeyState = 'active' | 'rotating' | 'disabled' | 'revoked';
export type ApiKeyStatus = ApiKeyState | 'expired';
export type ExpiryStatus = 'active' | 'expiring_soon' | 'expired';

export interface ApiKey {
  id: string;
  name: string;
  client_id: string;
  preview: string;
  permissions: string[];
  environment: 'live' | 'test';
  status: ApiKeyStatus;
  state: ApiKeyState;
  expiry_status: ExpiryStatus;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  enabled: boolean;
  last_used_at: string | null;
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
