import { applyDecorators, createParamDecorator, UseGuards, type ExecutionContext } from '@nestjs/common';
import type { Permission, Principal } from '@gatehouse/contracts';
import { AccessTokenGuard } from './access-token.guard';
import { PermissionsGuard, RequirePermissions } from './permissions.guard';

/**
 * A route that needs a valid token carrying every listed permission: a Gatehouse access token, or, where the
 * app's AuthModule is given `oidc`, a dashboard user's token whose role grants those permissions.
 */
export function Authorize(...permissions: Permission[]): MethodDecorator & ClassDecorator {
  return applyDecorators(RequirePermissions(...permissions), UseGuards(AccessTokenGuard, PermissionsGuard));
}

export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal =>
    context.switchToHttp().getRequest<{ user: Principal }>().user,
);

/** The caller's address as the service sees it (the gateway's X-Forwarded-For when trusted). */
export const ClientIp = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string =>
    context.switchToHttp().getRequest<{ ip: string }>().ip,
);

/** The id of this request, as logged and returned in error bodies. */
export const RequestId = createParamDecorator(
  (_data: unknown, context: ExecutionContext): string =>
    context.switchToHttp().getRequest<{ id: string }>().id,
);
