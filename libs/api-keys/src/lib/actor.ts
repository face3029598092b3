import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Permission, Principal } from '@gatehouse/contracts';
import type { AuditActorType } from '@gatehouse/persistence';

interface ActorBase {
  organizationId: string;
  permissions: readonly Permission[];
  type: AuditActorType;
  /** As recorded in `created_by` and the audit trail: `user:<id>`, `api_key:<id>` or `system:<what>`. */
  subject: string;
  ip: string | null;
  requestId: string | null;
}

/**
 * A key's token. Which key and which of its secrets issued it travel along, because a change made with it is
 * checked against that key's row as it is now, not as the token remembers it.
 */
export interface KeyActor extends ActorBase {
  type: 'api_key';
  apiKeyId: string;
  /** The key's `key_version` when the token was issued: older than the key's means a secret a rotation retires. */
  keyVersion: number;
}

export interface UserOrSystemActor extends ActorBase {
  type: Exclude<AuditActorType, 'api_key'>;
}

/** Whoever acts on keys: the organization is always taken from here, never from the request body. */
export type Actor = KeyActor | UserOrSystemActor;

export function actorOf(principal: Principal, request: { ip?: string; id?: string } = {}): Actor {
  const common = {
    organizationId: principal.organizationId,
    permissions: principal.permissions,
    ip: request.ip ?? null,
    requestId: request.id ?? null,
  };
  if (principal.kind === 'user') return { ...common, type: 'user', subject: `user:${principal.userId}` };
  return {
    ...common,
    type: 'api_key',
    subject: `api_key:${principal.apiKeyId}`,
    apiKeyId: principal.apiKeyId,
    keyVersion: principal.keyVersion,
  };
}

/** The authenticated caller of an admin route, with the address and request id the audit trail records. */
export const CurrentActor = createParamDecorator((_data: unknown, context: ExecutionContext): Actor => {
  const request = context.switchToHttp().getRequest<{ user: Principal; ip: string; id: string }>();
  return actorOf(request.user, request);
});
