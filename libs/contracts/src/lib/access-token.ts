import type { Permission } from './permissions';
import type { RateLimit } from './rate-limits';

/** Claims of a Gatehouse access token, beyond the registered ones (iss, aud, sub, iat, nbf, exp, jti). */
export interface AccessTokenClaims {
  org: string;
  api_key_id: string;
  client_id: string;
  permissions: Permission[];
  /** Which secret of the key the token was issued from; it goes up by one at every rotation. */
  key_version: number;
  /**
   * The key's effective rate limit when the token was issued: its override if set, else its organization plan's.
   * The gateway enforces it per key; a `rate_limit_changed` broadcast may replace it before the token expires.
   */
  rate_limit: RateLimit;
  /**
   * The key's IP allowlist when the token was issued, as normalized CIDRs (`10.9.9.0/24`, `2001:db8::/32`,
   * single addresses as /32 or /128). Absent when the key is unrestricted. A token carries the list it was issued
   * with until it expires: a later change of the key's list applies to new tokens.
   */
  allowed_ips?: string[];
}

interface PrincipalBase {
  organizationId: string;
  permissions: Permission[];
  /** `sub` of the token: a client_id for keys, the identity provider's user id for people. */
  subject: string;
  tokenId: string;
  expiresAt: Date;
}

/** A pipeline or CLI, holding a Gatehouse access token issued from an API key. */
export interface KeyPrincipal extends PrincipalBase {
  kind: 'api_key';
  apiKeyId: string;
  clientId: string;
  keyVersion: number;
  /** The token's `allowed_ips`: requests from elsewhere are refused. Undefined when the key is unrestricted. */
  allowedIps?: readonly string[];
}

/** A dashboard user, holding a token from the organization's identity provider. */
export interface UserPrincipal extends PrincipalBase {
  kind: 'user';
  userId: string;
  role: Role;
}

/** Who is calling, as established from a verified token. */
export type Principal = KeyPrincipal | UserPrincipal;

export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** The one place where a dashboard role becomes permissions. */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  owner: ['read:keys', 'write:keys', 'read:findings', 'write:findings'],
  admin: ['read:keys', 'write:keys', 'read:findings', 'write:findings'],
  member: ['read:keys', 'read:findings', 'write:findings'],
  viewer: ['read:keys', 'read:findings'],
};

export const TOKEN_TYPE = 'bearer';
export const ACCESS_TOKEN_TTL_SECONDS = 1800;
