import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Permission, Principal } from '@gatehouse/contracts';
import type { AuditActorType } from '@gatehouse/persistence';

/** Whoever acts on keys: the organization is always taken from here, never from the request body. */
export interface Actor {
  organizationId: string;
  permissions: readonly Permission[];
  type: AuditActorType;
  /** As recorded in `created_by` and the audit trail: `user:<id>`, `api_key:<id>` or `system:<what>`. */
  subject: string;
  ip: string | null;
  requestId: string | null;
}

export function actorOf(principal: Principal, request: { ip?: string; id?: string } = {}): Actor {
  const subject = principal.kind === 'user' ? `user:${principal.userId}` : `api_key:${principal.apiKeyId}`;
  return {
    organizationId: principal.organizationId,
    permissions: principal.permissions,
    type: principal.kind,
    subject,
    ip: request.ip ?? null,
    requestId: request.id ?? null,
  };
}

/** The authenticated caller of an admin route, with the address and request id the audit trail records. */
export const CurrentActor = createParamDecorator((_data: unknown, context: ExecutionContext): Actor => {
  const request = context.switchToHttp().getRequest<{ user: Principal; ip: string; id: string }>();
  return actorOf(request.user, request);
});
