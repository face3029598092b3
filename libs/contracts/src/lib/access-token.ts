import type { Permission } from './permissions';

/** Claims of a Gatehouse access token, beyond the registered ones (iss, aud, sub, iat, exp, jti). */
export interface AccessTokenClaims {
  org: string;
  api_key_id: string;
  client_id: string;
  permissions: Permission[];
}

/** Who is calling, as established from a verified access token. */
export interface Principal {
  organizationId: string;
  apiKeyId: string;
  clientId: string;
  permissions: Permission[];
  subject: string;
  tokenId: string;
  expiresAt: Date;
}

export const TOKEN_TYPE = 'bearer';
export const ACCESS_TOKEN_TTL_SECONDS = 1800;
