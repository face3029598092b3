import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-jwt';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  GatehouseError,
  isPermission,
  normalizeIpEntry,
  type KeyPrincipal,
} from '@gatehouse/contracts';
import { RevocationRegistry } from '@gatehouse/revocation';
import { bearerTokenFromRequest } from './bearer-token';
import { SigningKeyResolver } from './signing-key-resolver';
import { TOKEN_VERIFICATION_OPTIONS, type TokenVerificationOptions } from './token-verification-options';

export const JWT_STRATEGY = 'gatehouse-jwt';

interface AccessTokenPayload {
  sub?: unknown;
  org?: unknown;
  api_key_id?: unknown;
  client_id?: unknown;
  permissions?: unknown;
  jti?: unknown;
  exp?: unknown;
  iat?: unknown;
  key_version?: unknown;
  allowed_ips?: unknown;
}

function isString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** Absent: unrestricted. Present: a non-empty list of normalized CIDRs, exactly as auth-service signs it. */
function isAllowedIpsClaim(value: unknown): value is string[] | undefined {
  if (value === undefined) return true;
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((entry) => typeof entry === 'string' && normalizeIpEntry(entry) === entry)
  );
}

/**
 * The checks a token meets on every request, verified afresh or found in the VerifiedTokenCache: its key is
 * neither revoked (nor its secret retired by a rotation) nor disabled, as this node knows now.
 */
export function assertKeyUsable(revocations: RevocationRegistry, apiKeyId: string, keyVersion: number): void {
  if (revocations.isRevoked(apiKeyId, keyVersion)) {
    throw new GatehouseError('token_revoked', 'The API key behind this token has been revoked or rotated');
  }
  // 401 like a revocation, so that the gateway also drops its cached token of a key sent directly.
  if (revocations.isDisabled(apiKeyId)) {
    throw new GatehouseError('api_key_disabled', 'The API key behind this token is disabled');
  }
}

/**
 * Verifies Gatehouse access tokens: RS256 only, issuer, audience, expiry and a known `kid` (passport-jwt with
 * keys from the JWKS), then the claims this suite needs and the local revocation set. No network call is made
 * per request: keys are cached and the revocation set is in memory.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, JWT_STRATEGY) {
  constructor(
    @Inject(TOKEN_VERIFICATION_OPTIONS) private readonly options: TokenVerificationOptions,
    private readonly revocations: RevocationRegistry,
  ) {
    const resolver = new SigningKeyResolver(options.jwksUrl);
    super({
      // Not ExtractJwt.fromAuthHeaderAsBearerToken(): its regular expression is quadratic on a long header.
      jwtFromRequest: bearerTokenFromRequest,
      algorithms: ['RS256'],
      issuer: options.issuer,
      audience: options.audience,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: options.clockToleranceSeconds },
      secretOrKeyProvider: (
        _request: unknown,
        rawJwt: string,
        done: (error: unknown, key?: string) => void,
      ) => {
        resolver.resolve(rawJwt).then(
          // jsonwebtoken 9 verifies with a KeyObject; @types/passport-jwt only lists string | Buffer.
          (key) => done(null, key as unknown as string),
          (error: unknown) => done(error),
        );
      },
    });
  }

  validate(payload: AccessTokenPayload): KeyPrincipal {
    const { sub, org, api_key_id, client_id, permissions, jti, exp, iat, key_version, allowed_ips } = payload;
    if (
      !isString(sub) ||
      !isString(org) ||
      !isString(api_key_id) ||
      !isString(client_id) ||
      !isString(jti) ||
      typeof exp !== 'number' ||
      typeof key_version !== 'number' ||
      !Number.isInteger(key_version) ||
      key_version < 1 ||
      !Array.isArray(permissions) ||
      !permissions.every(isPermission) ||
      !isAllowedIpsClaim(allowed_ips) ||
      typeof iat !== 'number'
    ) {
      throw new GatehouseError('invalid_token', 'Access token lacks required claims');
    }
    // auth-service never issues a token dated in the future or living longer than ACCESS_TOKEN_TTL_SECONDS: one
    // that does was not issued by it, whatever its signature says (a leaked signing key's forgeries expire too).
    if (
      iat > Date.now() / 1000 + this.options.clockToleranceSeconds ||
      exp - iat > ACCESS_TOKEN_TTL_SECONDS
    ) {
      throw new GatehouseError(
        'invalid_token',
        'Access token has an issue time or lifetime auth-service never gives',
      );
    }
    assertKeyUsable(this.revocations, api_key_id, key_version);
    return {
      kind: 'api_key',
      keyVersion: key_version,
      subject: sub,
      organizationId: org,
      apiKeyId: api_key_id,
      clientId: client_id,
      permissions,
      tokenId: jti,
      expiresAt: new Date(exp * 1000),
      ...(allowed_ips ? { allowedIps: allowed_ips } : {}),
    };
  }
}
