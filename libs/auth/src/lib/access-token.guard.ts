import { Inject, Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { GatehouseError, type Principal } from '@gatehouse/contracts';
import { bearerTokenOf } from './bearer-token';
import { JwtAuthGuard } from './jwt-auth.guard';
import { TOKEN_VERIFICATION_OPTIONS, type TokenVerificationOptions } from './token-verification-options';
import { UserTokenVerifier } from './user-token-verifier';

interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: Principal;
}

/** The token of `Authorization: Bearer <token>`, parsed as the Gatehouse strategy parses it (linear time). */
export { bearerTokenOf } from './bearer-token';

/**
 * `iss` of a JWT's payload, read WITHOUT verifying anything: it only chooses which verifier checks the token,
 * and each verifier then requires its own exact issuer. Undefined when the token cannot be decoded or has none.
 */
export function unverifiedIssuerOf(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof payload !== 'object' || payload === null || !('iss' in payload)) return undefined;
    return typeof payload.iss === 'string' ? payload.iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The authentication step of `@Authorize()`. Without a user verifier (findings-service) it is the Gatehouse
 * passport guard and nothing else. With one (admin-api configured with `OIDC_ISSUER`), the token's issuer picks
 * the verifier: the identity provider's issuer → the user verifier; anything else that names an issuer other
 * than Gatehouse's → 401 at once; Gatehouse's issuer, no issuer, no token or an undecodable one → the Gatehouse
 * guard, which answers exactly as it always has.
 */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(
    private readonly gatehouse: JwtAuthGuard,
    @Inject(TOKEN_VERIFICATION_OPTIONS) private readonly options: TokenVerificationOptions,
    @Optional() private readonly users?: UserTokenVerifier,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> | Observable<boolean> {
    if (!this.users) return this.gatehouse.canActivate(context);
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = bearerTokenOf(request.headers['authorization']);
    const issuer = token === null ? undefined : unverifiedIssuerOf(token);
    if (token === null || issuer === undefined || issuer === this.options.issuer) {
      return this.gatehouse.canActivate(context);
    }
    if (issuer !== this.users.issuer) {
      throw new GatehouseError('invalid_token', 'Access token is from an issuer this service does not trust');
    }
    return this.users.verify(token).then((principal) => {
      request.user = principal;
      return true;
    });
  }
}
