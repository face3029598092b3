/**
 * What an organization may be named (set once, at bootstrap): 1–40 lower-case letters, digits and inner hyphens.
 * Dashboard tokens name their organization, so a claim outside this pattern names none, whatever it holds.
 */
export const ORGANIZATION_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

export function isOrganizationName(value: unknown): value is string {
  return typeof value === 'string' && ORGANIZATION_NAME.test(value);
}
