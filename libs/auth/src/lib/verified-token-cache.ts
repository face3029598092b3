import { LRUCache } from 'lru-cache';
import type { KeyPrincipal } from '@gatehouse/contracts';

/** Tokens kept per node: a pipeline reuses its token for up to 30 minutes, so few distinct ones are in use. */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/**
 * Gatehouse access tokens this node has verified (signature, issuer, audience, claims), by their exact text, so
 * that the RS256 verification and the claim checks run once per token instead of once per request. Only what
 * cannot change is cached: expiry is checked again on every hit, and the caller checks revocation, disabling and
 * the IP allowlist on every request as for a token verified afresh. A token not byte-for-byte equal to one
 * verified here is never found, so a forged or altered token always meets the full verification.
 */
export class VerifiedTokenCache {
  private readonly entries: LRUCache<string, KeyPrincipal>;

  constructor(
    private readonly clockToleranceSeconds: number,
    private readonly now: () => number = Date.now,
    size = VERIFIED_TOKEN_CACHE_SIZE,
  ) {
    this.entries = new LRUCache({ max: size });
  }

  /** The principal of a token verified before and not expired (within the clock tolerance), else undefined. */
  get(token: string): KeyPrincipal | undefined {
    const principal = this.entries.get(token);
    if (!principal) return undefined;
    if (principal.expiresAt.getTime() + this.clockToleranceSeconds * 1000 <= this.now()) {
      // Expired: the full verification answers it, with its own error.
      this.entries.delete(token);
      return undefined;
    }
    return principal;
  }

  set(token: string, principal: KeyPrincipal): void {
    this.entries.set(token, Object.freeze({ ...principal }));
  }
}
