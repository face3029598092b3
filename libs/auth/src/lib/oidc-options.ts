/**
 * Signature algorithms a dashboard user's token may use. Asymmetric only: with an HMAC algorithm, whoever can
 * verify a token could also mint one, and the "key" would be a shared secret rather than a published key set.
 */
export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256'] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

const OIDC_ALGORITHM_SET: ReadonlySet<string> = new Set(OIDC_ALGORITHMS);

export function isOidcAlgorithm(value: unknown): value is OidcAlgorithm {
  return typeof value === 'string' && OIDC_ALGORITHM_SET.has(value);
}

/**
 * How tokens from the organization's identity provider are checked. Claim names are top-level claims of the
 * token; a namespaced name such as `https://gatehouse.example/org` is a plain top-level name too.
 */
export interface OidcVerificationOptions {
  /** Exact `iss` of the identity provider's tokens; it also decides which verifier sees a token. */
  issuer: string;
  jwksUrl: string;
  /** Required in `aud`. */
  audience: string;
  /** The allow-list for the header's `alg`. */
  algorithms: readonly OidcAlgorithm[];
  /** Claim holding the user's id, recorded as `user:<id>`. */
  userClaim: string;
  /** Claim holding the Gatehouse organization's name (e.g. `acme`). */
  organizationClaim: string;
  /** Claim holding one of the roles of `ROLES`. */
  roleClaim: string;
}

export const OIDC_VERIFICATION_OPTIONS = Symbol('OIDC_VERIFICATION_OPTIONS');
