import type { KeySource } from '@gatehouse/crypto';

export interface TokenIssuanceOptions {
  issuer: string;
  audience: string;
  /** PEM of the RSA private key; when absent a development key is generated if allowed. */
  signingKeyPem?: string;
  signingKeyId?: string;
  /** Where `signingKeyPem` came from, named in start-up errors; `JWT_SIGNING_KEY` unless given. */
  signingKeySource?: string;
  /**
   * Rotation step 1: the key the next rotation will sign with (private or public PEM). Published in the JWKS so
   * that verifiers know it before it signs anything; never signs here.
   */
  nextSigningKey?: KeySource;
  /**
   * Rotation step 2: the key signing stopped with (private or public PEM). Still published, never signs, until
   * every token it signed has expired.
   */
  previousSigningKey?: KeySource;
  allowDevelopmentKey: boolean;
  usageFlushIntervalMs: number;
  /** Days the per-key usage log is kept. */
  usageRetentionDays: number;
}

export const TOKEN_ISSUANCE_OPTIONS = Symbol('TOKEN_ISSUANCE_OPTIONS');
