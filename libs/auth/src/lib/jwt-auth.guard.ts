import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { GatehouseError, isIpAllowed, type Principal } from '@gatehouse/contracts';
import { RevocationRegistry } from '@gatehouse/revocation';
import { bearerTokenOf } from './bearer-token';
import { assertKeyUsable, JWT_STRATEGY } from './jwt.strategy';
import { TOKEN_VERIFICATION_OPTIONS, type TokenVerificationOptions } from './token-verification-options';
import { VerifiedTokenCache } from './verified-token-cache';

interface GuardedRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: Principal;
}

/**
 * Gatehouse access tokens through passport-jwt, its outcomes turned into the suite's error codes. A token verified
 * once is remembered (VerifiedTokenCache): its next requests skip the signature and claim checks, never the
 * expiry, revocation, disabling or IP allowlist checks.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard(JWT_STRATEGY) {
  private readonly verified: VerifiedTokenCache;

  constructor(
    private readonly revocations: RevocationRegistry,
    @Inject(TOKEN_VERIFICATION_OPTIONS) options: TokenVerificationOptions,
  ) {
    super();
    this.verified = new VerifiedTokenCache(options.clockToleranceSeconds);
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    const token = bearerTokenOf(request.headers['authorization']);
    const known = token === null ? undefined : this.verified.get(token);
    if (known) {
      assertKeyUsable(this.revocations, known.apiKeyId, known.keyVersion);
      assertAllowedIp(known, context);
      request.user = known;
      return true;
    }
    const admitted = (await super.canActivate(context)) as boolean;
    if (admitted && token !== null && request.user?.kind === 'api_key')
      this.verified.set(token, request.user);
    return admitted;
  }
  override handleRequest<TUser = Principal>(
    error: unknown,
    user: unknown,
    info: unknown,
    context?: ExecutionContext,
  ): TUser {
    // passport-jwt reports errors of the key lookup as `info`, not as `error`.
    if (error instanceof GatehouseError) throw error;
    if (info instanceof GatehouseError) throw info;
    if (error) throw new GatehouseError('invalid_token', 'Access token is invalid');
    if (user) {
      assertAllowedIp(user as Principal, context);
      return user as TUser;
    }
    const reason = info instanceof Error ? info : undefined;
    if (reason?.name === 'TokenExpiredError') {
      throw new GatehouseError('token_expired', 'Access token has expired');
    }
    if (!reason || reason.message === 'No auth token') {
      throw new GatehouseError('missing_token', 'Send an access token as Authorization: Bearer <token>');
    }
    throw new GatehouseError('invalid_token', 'Access token is invalid');
  }
}

/**
 * A token issued from a key with an IP allowlist carries it (`allowed_ips`): used from anywhere else, it is refused
 * like the key itself would be. The address is the request's as this service sees it (the gateway's
 * X-Forwarded-For when trusted).
 */
function assertAllowedIp(principal: Principal, context: ExecutionContext | undefined): void {
  if (principal.kind !== 'api_key' || !principal.allowedIps) return;
  const ip = context?.switchToHttp().getRequest<{ ip?: string }>().ip ?? '';
  if (!isIpAllowed(principal.allowedIps, ip)) {
    throw new GatehouseError(
      'ip_not_allowed',
      `This token's API key may not be used from ${ip || 'an unknown address'}`,
    );
  }
}
