import type { ApiKey, ApiKeyRateLimit } from './api/types';

const DATE_TIME = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'medium',
  timeStyle: 'short',
  timeZone: 'UTC',
});

/** Times in UTC, labelled so: the API and the logs speak UTC, and a support ticket should quote the same time. */
export function formatTime(iso: string | null, empty: string): string {
  if (!iso) return empty;
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? iso : `${DATE_TIME.format(time)} UTC`;
}

/** The state column: the API's one-word status, plus a warning when the expiry is near. */
export function stateLabel(key: Pick<ApiKey, 'status' | 'expiry_status'>): string {
  const word = key.status.charAt(0).toUpperCase() + key.status.slice(1);
  return key.status === 'active' && key.expiry_status === 'expiring_soon' ? `${word}, expiring soon` : word;
}

/** The expiry column: when, and whether it has passed or is near. */
export function expiryLabel(key: Pick<ApiKey, 'expires_at' | 'expiry_status'>): string {
  const when = formatTime(key.expires_at, 'Never');
  if (key.expiry_status === 'expired') return `Expired ${when}`;
  if (key.expiry_status === 'expiring_soon') return `${when} (soon)`;
  return when;
}

export function rateLimitLabel(limit: ApiKeyRateLimit): string {
  const source = limit.source === 'override' ? 'override' : 'plan';
  return `${limit.requests_per_minute}/min, burst ${limit.burst} (${source})`;
}
