export interface TokenIssuanceOptions {
  issuer: string;
  audience: string;
  /** PEM of the RSA private key; when absent a development key is generated if allowed. */
  signingKeyPem?: string;
  signingKeyId?: string;
  allowDevelopmentKey: boolean;
  usageFlushIntervalMs: number;
  /** Days the per-key usage log is kept. */
  usageRetentionDays: number;
}

export const TOKEN_ISSUANCE_OPTIONS = Symbol('TOKEN_ISSUANCE_OPTIONS');
