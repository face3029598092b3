import { createHash } from 'node:crypto';
import {
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type CompactJWSHeaderParameters,
  type CryptoKey,
  type FlattenedJWSInput,
  type JWTPayload,
} from 'jose';
import {
  GatehouseError,
  isOrganizationName,
  ROLE_PERMISSIONS,
  ROLES,
  systemClock,
  type Clock,
  type Role,
  type UserPrincipal,
} from '@gatehouse/contracts';
import { isPostgresSafe } from '@gatehouse/http';
import type { OidcVerificationOptions } from './oidc-options';
import type { OrganizationDirectory } from './organization-directory';

/** Finds the identity provider's public key for a token; fails with a GatehouseError. */
export type UserKeyResolver = (
  header: CompactJWSHeaderParameters,
  token: FlattenedJWSInput,
) => Promise<CryptoKey>;

export interface UserTokenVerifierOptions extends OidcVerificationOptions {
  /** The same tolerance as for Gatehouse tokens, applied to `exp` and `nbf`. */
  clockToleranceSeconds: number;
}

export interface UserKeySetOptions {
  /** Longest a fetched key set is used before it is fetched again. */
  cacheMaxAgeMs?: number;
  /** Shortest time between two fetches caused by an unknown `kid`. */
  cooldownMs?: number;
  timeoutMs?: number;
}

/** The longest user id kept: `created_by` and the audit actor hold `user:<id>` in 200 characters. */
export const USER_ID_MAX = 190;

const ROLE_SET: ReadonlySet<string> = new Set(ROLES);

function isRole(value: unknown): value is Role {
  return typeof value === 'string' && ROLE_SET.has(value);
}

function isUserId(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= USER_ID_MAX &&
    !/[\u0000-\u001f\u007f]/.test(value) &&
    isPostgresSafe(value)
  );
}

/**
 * Turns a key set's failures into the suite's errors: a token signed by a key the identity provider does not
 * publish is an invalid token (401); a key set that cannot be fetched or read is an outage (503).
 */
export function toUserKeyResolver(keySet: UserKeyResolver): UserKeyResolver {
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
        throw new GatehouseError(
          'invalid_token',
          'Access token is signed by a key the identity provider does not publish',
        );
      }
      throw new GatehouseError(
        'service_unavailable',
        'The identity provider’s signing keys cannot be fetched right now; retry shortly',
      );
    }
  };
}

/**
 * The identity provider's key set through jose's remote JWKS: fetched once, cached, refetched on an unknown `kid`
 * at most once per cooldown, so tokens with made-up key ids cost nothing.
 */
export function createUserKeyResolver(jwksUrl: string, options: UserKeySetOptions = {}): UserKeyResolver {
  return toUserKeyResolver(
    createRemoteJWKSet(new URL(jwksUrl), {
      cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60 * 1000,
      cooldownDuration: options.cooldownMs ?? 30_000,
      timeoutDuration: options.timeoutMs ?? 3000,
    }),
  );
}

/**
 * Verifies a dashboard user's token from the organization's identity provider: an allow-listed asymmetric
 * algorithm, a key from the provider's JWKS, the exact issuer, the audience, `exp` (required) and `nbf` with
 * the suite's clock tolerance, then the user, organization and role claims. The organization's name becomes its
 * id through the database; the role becomes permissions through `ROLE_PERMISSIONS` only.
 */
export class UserTokenVerifier {
  constructor(
    private readonly options: UserTokenVerifierOptions,
    private readonly organizations: OrganizationDirectory,
    private readonly keys: UserKeyResolver,
    private readonly clock: Clock = systemClock,
  ) {}

  get issuer(): string {
    return this.options.issuer;
  }

  async verify(token: string): Promise<UserPrincipal> {
    const payload = await this.verifySignatureAndClaims(token);
    const { userClaim, organizationClaim, roleClaim } = this.options;
    const userId = payload[userClaim];
    const organizationName = payload[organizationClaim];
    const role = payload[roleClaim];
    if (!isUserId(userId)) {
      throw new GatehouseError('invalid_token', `Access token lacks a valid user claim "${userClaim}"`);
    }
    if (typeof organizationName !== 'string' || organizationName.length === 0) {
      throw new GatehouseError(
        'invalid_token',
        `Access token lacks the organization claim "${organizationClaim}"`,
      );
    }
    // Organizations are named by bootstrap's pattern; any other value names none and is never looked up (a NUL
    // in it would otherwise reach PostgreSQL, which refuses it).
    if (!isOrganizationName(organizationName)) {
      throw new GatehouseError(
        'forbidden',
        `The organization named by this token (${JSON.stringify(String(organizationName).slice(0, 40))}) does not exist in Gatehouse`,
      );
    }
    if (!isRole(role)) {
      throw new GatehouseError(
        'invalid_token',
        `Access token's role claim "${roleClaim}" must be one of ${ROLES.join(', ')}`,
      );
    }
    const organizationId = await this.organizations.idOf(organizationName);
    if (organizationId === null) {
      throw new GatehouseError(
        'forbidden',
        `The organization named by this token (${JSON.stringify(organizationName.slice(0, 40))}) does not exist in Gatehouse`,
      );
    }
    return {
      kind: 'user',
      userId,
      role,
      organizationId,
      permissions: [...ROLE_PERMISSIONS[role]],
      subject: typeof payload.sub === 'string' && payload.sub.length > 0 ? payload.sub : userId,
      tokenId: typeof payload.jti === 'string' && payload.jti.length > 0 ? payload.jti : digestOf(token),
      expiresAt: new Date((payload.exp as number) * 1000),
    };
  }

  private async verifySignatureAndClaims(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        algorithms: [...this.options.algorithms],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockToleranceSeconds,
        currentDate: this.clock.now(),
        requiredClaims: ['exp'],
      });
      if (typeof payload.exp !== 'number') {
        throw new GatehouseError('invalid_token', 'Access token has no expiry (exp)');
      }
      return payload;
    } catch (error) {
      if (error instanceof GatehouseError) throw error;
      if (error instanceof errors.JWTExpired) {
        throw new GatehouseError('token_expired', 'Access token has expired');
      }
      if (error instanceof errors.JOSEAlgNotAllowed) {
        throw new GatehouseError(
          'invalid_token',
          `Access token must be signed with one of ${this.options.algorithms.join(', ')}`,
        );
      }
      if (error instanceof errors.JWTClaimValidationFailed) {
        throw new GatehouseError('invalid_token', `Access token is invalid: ${error.message}`);
      }
      if (error instanceof errors.JOSEError) {
        throw new GatehouseError('invalid_token', 'Access token is invalid');
      }
      throw error;
    }
  }
}

/** A stable id for a token without `jti`, for logs: never the token itself. */
function digestOf(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('base64url').slice(0, 32)}`;
}
