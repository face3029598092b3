import { PERMISSIONS, type ApiKey, type Me, type Permission } from '../api/types';

const CLIENT_ID = /^[A-Za-z0-9._-]{3,50}$/;
const DAY_MS = 86_400_000;
export const SUGGESTED_LIFETIME_DAYS = 90;

/** The API's rule for client ids, checked as the user types; null when it is fine. */
export function clientIdProblem(value: string): string | null {
  if (value.length === 0) return 'Enter a client ID.';
  if (value.length < 3) return 'A client ID has at least 3 characters.';
  if (value.length > 50) return 'A client ID has at most 50 characters.';
  if (!CLIENT_ID.test(value)) return 'Use only letters, digits, ".", "-" and "_".';
  return null;
}

export function nameProblem(value: string): string | null {
  if (value.trim().length === 0) return 'Enter a name.';
  if (value.length > 100) return 'A name has at most 100 characters.';
  return null;
}

/** Nobody grants what they do not hold: the API refuses it, so the form does not offer it. */
export function grantablePermissions(me: Pick<Me, 'permissions'>): Permission[] {
  return PERMISSIONS.filter((permission) => me.permissions.includes(permission));
}

/** yyyy-mm-dd (UTC) of the recommended expiry: 90 days from now. */
export function suggestedExpiry(now: Date): string {
  return new Date(now.getTime() + SUGGESTED_LIFETIME_DAYS * DAY_MS).toISOString().slice(0, 10);
}

/** An expiry date from the form, as the API wants it: the start of that day, UTC. */
export function expiryProblem(date: string, now: Date): string | null {
  if (date === '') return null;
  const at = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(at)) return 'Enter a date as YYYY-MM-DD.';
  if (at <= now.getTime()) return 'The expiry must be in the future.';
  return null;
}

export function expiryInstant(date: string): string | undefined {
  return date === '' ? undefined : `${date}T00:00:00.000Z`;
}

/**
 * What stops the user changing a key, or null. The API lets a change through only with write:keys and every
 * permission the key holds, so a key stronger than its caller cannot be taken over.
 */
export function whyNoWrite(
  me: Pick<Me, 'permissions' | 'role'>,
  key?: Pick<ApiKey, 'permissions'>,
): string | null {
  if (!me.permissions.includes('write:keys')) {
    return me.role
      ? `Your role (${me.role}) may read keys but not change them.`
      : 'This credential may read keys but not change them.';
  }
  const missing = key ? key.permissions.filter((permission) => !me.permissions.includes(permission)) : [];
  if (missing.length > 0)
    return `This key holds ${missing.join(', ')}, which you do not: you may not change it.`;
  return null;
}

/** Time left until the previous secret retires: "1d 2h 3m 4s", the larger units only when needed. */
export function formatCountdown(ms: number): string {
  if (ms <= 0) return 'now';
  const total = Math.ceil(ms / 1000);
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const parts: string[] = [];
  if (days > 0) parts.push(`${days}d`);
  if (days > 0 || hours > 0) parts.push(`${hours}h`);
  if (days > 0 || hours > 0 || minutes > 0) parts.push(`${minutes}m`);
  parts.push(`${seconds}s`);
  return parts.join(' ');
}
