/** The one permission catalog. A key or a user holds a subset of it. */
export const PERMISSIONS = ['read:keys', 'write:keys', 'read:findings', 'write:findings'] as const;

export type Permission = (typeof PERMISSIONS)[number];

const PERMISSION_SET: ReadonlySet<string> = new Set(PERMISSIONS);

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && PERMISSION_SET.has(value);
}

/** Permissions in `requested` that `held` does not include. */
export function missingPermissions(
  held: readonly Permission[],
  requested: readonly Permission[],
): Permission[] {
  const heldSet = new Set(held);
  return requested.filter((permission) => !heldSet.has(permission));
}
