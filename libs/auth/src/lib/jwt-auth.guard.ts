import { Injectable, type ExecutionContext } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { GatehouseError, isIpAllowed, type Principal } from '@gatehouse/contracts';
import { JWT_STRATEGY } from './jwt.strategy';

/** Turns passport's outcomes into the suite's error codes. */
@Injectable()
export class JwtAuthGuard extends AuthGuard(JWT_STRATEGY) {
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
