import { Injectable } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { GatehouseError, type Principal } from '@gatehouse/contracts';
import { JWT_STRATEGY } from './jwt.strategy';

/** Turns passport's outcomes into the suite's error codes. */
@Injectable()
export class JwtAuthGuard extends AuthGuard(JWT_STRATEGY) {
  override handleRequest<TUser = Principal>(error: unknown, user: unknown, info: unknown): TUser {
    // passport-jwt reports errors of the key lookup as `info`, not as `error`.
    if (error instanceof GatehouseError) throw error;
    if (info instanceof GatehouseError) throw info;
    if (error) throw new GatehouseError('invalid_token', 'Access token is invalid');
    if (user) return user as TUser;
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
