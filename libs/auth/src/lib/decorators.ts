import { applyDecorators, createParamDecorator, UseGuards, type ExecutionContext } from '@nestjs/common';
import type { Permission, Principal } from '@gatehouse/contracts';
import { JwtAuthGuard } from './jwt-auth.guard';
import { PermissionsGuard, RequirePermissions } from './permissions.guard';

/** A route that needs a valid access token carrying every listed permission. */
export function Authorize(...permissions: Permission[]): MethodDecorator & ClassDecorator {
  return applyDecorators(RequirePermissions(...permissions), UseGuards(JwtAuthGuard, PermissionsGuard));
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
