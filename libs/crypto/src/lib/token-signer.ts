import { constants, randomUUID, sign, type KeyObject } from 'node:crypto';
import type { AccessTokenClaims } from '@gatehouse/contracts';
import { SIGNING_ALGORITHM, SigningKeyError, type SigningKey } from './signing-keys';

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

const MIN_RSA_BITS = 2048;

/** Whole seconds since the epoch, as RFC 7519 NumericDate; anything else would yield an unverifiable token. */
function assertNumericDate(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${name} must be whole seconds since the epoch, got ${value}`);
  }
}

/**
 * Signs access tokens as compact RS256 JWS (RFC 7515/7519).
 *
 * Written against node:crypto rather than jose's SignJWT: jose signs through WebCrypto, which per token clones
 * the claims, re-serialises the header and wraps the key, and hops through several promises, on the one main
 * thread every request shares. Here the header is encoded once per key, the payload is one JSON.stringify, and
 * the RSA private-key operation (the bulk of a token's cost) runs via the callback form of `crypto.sign` on
 * libuv's thread pool, so the event loop keeps serving requests meanwhile. The output is the same as jose's,
 * byte for byte (RSASSA-PKCS1-v1_5 is deterministic; token-signer.spec.ts compares the two). Verification and
 * the JWKS stay with jose.
 */
export class TokenSigner {
  /** base64url of the protected header, with the separating dot: identical for every token of this key. */
  private readonly encodedHeader: string;
  private readonly signingKey: { key: KeyObject; padding: number };

  /**
   * @param newTokenId the `jti` of each token; tests pin it to compare tokens byte for byte
   */
  constructor(
    private readonly key: SigningKey,
    private readonly options: TokenSignerOptions,
    private readonly newTokenId: () => string = randomUUID,
  ) {
    // node:crypto signs with whatever key it is given: without this check an EC key would yield an ECDSA
    // signature under an RS256 header.
    const { privateKey } = key;
    const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_BITS) {
      throw new SigningKeyError(`RS256 needs an RSA private key of at least ${MIN_RSA_BITS} bits`);
    }
    const header = { alg: SIGNING_ALGORITHM, kid: key.kid, typ: 'JWT' };
    this.encodedHeader = `${Buffer.from(JSON.stringify(header), 'utf8').toString('base64url')}.`;
    this.signingKey = { key: privateKey, padding: constants.RSA_PKCS1_PADDING };
  }

  get kid(): string {
    return this.key.kid;
  }

  /**
   * @param subject the `sub` claim
   * @param issuedAt seconds since the epoch
   * @param expiresAt seconds since the epoch; the caller caps it at the key's own expiry
   */
  sign(
    claims: AccessTokenClaims,
    subject: string,
    issuedAt: number,
    expiresAt: number,
  ): Promise<SignedToken> {
    return new Promise((resolve, reject) => {
      // Thrown in here, a bad argument rejects the promise like a failed signature does.
      assertNumericDate('issuedAt', issuedAt);
      assertNumericDate('expiresAt', expiresAt);
      const tokenId = this.newTokenId();
      // Member order is part of the bytes: the custom claims, then the registered ones in the order jose wrote
      // them. Object.assign rather than `{ ...claims, iss, … }`: V8 gives the spread-then-extend literal a new
      // hidden class on every call once it is hot (about 10 µs per token and garbage that outlives scavenges).
      const payload = JSON.stringify(
        Object.assign({}, claims, {
          iss: this.options.issuer,
          aud: this.options.audience,
          sub: subject,
          iat: issuedAt,
          nbf: issuedAt,
          exp: expiresAt,
          jti: tokenId,
        }),
      );
      const signingInput = this.encodedHeader + Buffer.from(payload, 'utf8').toString('base64url');
      // With a callback, the RSA operation runs on libuv's thread pool instead of the event loop.
      sign('sha256', Buffer.from(signingInput, 'latin1'), this.signingKey, (error, signature) => {
        if (error) {
          reject(error);
          return;
        }
        resolve({
          token: `${signingInput}.${signature.toString('base64url')}`,
          tokenId,
          issuedAt,
          expiresAt,
        });
      });
    });
  }
}
