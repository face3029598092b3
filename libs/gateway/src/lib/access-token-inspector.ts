import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';

/** What the gateway needs of a verified Gatehouse access token: whose budget a request spends. */
export interface TokenIdentity {
  apiKeyId: string;
  organizationId: string;
  /** The limit the token was issued with (`rate_limit` claim); absent on tokens issued before the claim existed. */
  rateLimit?: { requestsPerMinute: number; burst: number };
  /** Unix seconds. */
  expiresAt: number;
  /**
   * The `allowed_ips` claim: normalized CIDRs the token may be used from; undefined when the key is unrestricted.
   */
  allowedIps?: readonly string[];
}

export interface AccessTokenInspectorOptions {
  jwksUrl: string;
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  /** Verified tokens remembered, so that a token is verified once per gateway, not once per request. */
  cacheSize?: number;
  /** Injected in tests; the JWKS fetched from `jwksUrl` otherwise. */
  keys?: JWTVerifyGetKey;
  now?: () => number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Absent: unrestricted. Present but not a list of strings: not a token this gateway can vouch for. */
function allowedIpsOf(claim: unknown): { valid: boolean; cidrs?: string[] } {
  if (claim === undefined) return { valid: true };
  if (!Array.isArray(claim) || claim.length > 1000 || !claim.every((entry) => typeof entry === 'string')) {
    return { valid: false };
  }
  return { valid: true, cidrs: claim };
}

function rateLimitOf(claim: unknown): TokenIdentity['rateLimit'] {
  if (typeof claim !== 'object' || claim === null) return undefined;
  const { requests_per_minute: requestsPerMinute, burst } = claim as Record<string, unknown>;
  if (!Number.isInteger(requestsPerMinute) || !Number.isInteger(burst)) return undefined;
  if ((requestsPerMinute as number) < 1 || (burst as number) < 0) return undefined;
  return { requestsPerMinute: requestsPerMinute as number, burst: burst as number };
}

/**
 * Tells which API key a bearer token speaks for, so the gateway can charge the key's rate limit. The signature,
 * algorithm (RS256 only), issuer, audience and expiry are verified: an unverified claim would let anyone spend
 * another organization's budget by writing its key id into a forged token. Revocation and permissions are not
 * checked here; the services behind the gateway do that on every request, as they always have.
 *
 * Anything that is not a valid Gatehouse token (a dashboard user's token, a forged or expired one) yields
 * undefined and is passed on to the service, which gives the authoritative answer.
 */
export class AccessTokenInspector {
  private readonly verified: LRUCache<string, TokenIdentity>;
  private readonly keys: JWTVerifyGetKey;
  private readonly now: () => number;

  constructor(private readonly options: AccessTokenInspectorOptions) {
    this.keys =
      options.keys ??
      createRemoteJWKSet(new URL(options.jwksUrl), {
        cacheMaxAge: 10 * 60 * 1000,
        cooldownDuration: 30_000,
        timeoutDuration: 3000,
      });
    this.now = options.now ?? (() => Date.now() / 1000);
    this.verified = new LRUCache({ max: options.cacheSize ?? 20_000 });
  }

  async inspect(token: string): Promise<TokenIdentity | undefined> {
    const known = this.verified.get(token);
    if (known) {
      if (known.expiresAt + this.options.clockToleranceSeconds > this.now()) return known;
      this.verified.delete(token);
      return undefined;
    }
    // Cheap refusal of what cannot be a JWT, before any key lookup.
    if (token.length > 8192 || token.split('.').length !== 3) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        algorithms: ['RS256'],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockToleranceSeconds,
        currentDate: new Date(this.now() * 1000),
        requiredClaims: ['exp', 'sub'],
      });
      const { api_key_id: apiKeyId, org: organizationId, exp } = payload;
      const allowedIps = allowedIpsOf(payload['allowed_ips']);
      if (
        typeof apiKeyId !== 'string' ||
        !UUID.test(apiKeyId) ||
        typeof organizationId !== 'string' ||
        !allowedIps.valid
      ) {
        return undefined;
      }
      const identity: TokenIdentity = {
        apiKeyId,
        organizationId,
        rateLimit: rateLimitOf(payload['rate_limit']),
        expiresAt: exp as number,
        ...(allowedIps.cidrs ? { allowedIps: allowedIps.cidrs } : {}),
      };
      this.verified.set(token, identity);
      return identity;
    } catch {
      // Not a Gatehouse token we can vouch for (bad signature, other issuer, expired, JWKS unreachable): the
      // request is then limited as an anonymous bearer and the service behind decides.
      return undefined;
    }
  }
}
