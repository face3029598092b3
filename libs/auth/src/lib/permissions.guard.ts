import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GatehouseError, missingPermissions, type Permission, type Principal } from '@gatehouse/contracts';

export const REQUIRED_PERMISSIONS = 'gatehouse:required-permissions';

export const RequirePermissions = (...permissions: Permission[]) =>
  SetMetadata(REQUIRED_PERMISSIONS, permissions);

@Injectable()
export class PermissionsGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const required = this.reflector.getAllAndOverride<Permission[] | undefined>(REQUIRED_PERMISSIONS, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!required?.length) return true;
    const principal = context.switchToHttp().getRequest<{ user?: Principal }>().user;
    const missing = missingPermissions(principal?.permissions ?? [], required);
    if (missing.length > 0) {
      throw new GatehouseError('forbidden', `This credential lacks the permission ${missing.join(', ')}`);
    }
    return true;
  }
}
