import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { AccessTokenClaims } from '@gatehouse/contracts';
import { SIGNING_ALGORITHM, type SigningKey } from './signing-keys';

export interface TokenSignerOptions {
  issuer: string;
  audience: string;
}

export interface SignedToken {
  token: string;
  tokenId: string;
  issuedAt: number;
  expiresAt: number;
}

export class TokenSigner {
  constructor(
    private readonly key: SigningKey,
    private readonly options: TokenSignerOptions,
  ) {}

  get kid(): string {
    return this.key.kid;
  }

  /**
   * @param subject the `sub` claim
   * @param issuedAt seconds since the epoch
   * @param expiresAt seconds since the epoch; the caller caps it at the key's own expiry
   */
  async sign(
    claims: AccessTokenClaims,
    subject: string,
    issuedAt: number,
    expiresAt: number,
  ): Promise<SignedToken> {
    const tokenId = randomUUID();
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setSubject(subject)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(tokenId)
      .sign(this.key.privateKey);
    return { token, tokenId, issuedAt, expiresAt };
  }
}
