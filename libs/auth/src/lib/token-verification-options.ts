export interface TokenVerificationOptions {
  issuer: string;
  audience: string;
  jwksUrl: string;
  clockToleranceSeconds: number;
}

export const TOKEN_VERIFICATION_OPTIONS = Symbol('TOKEN_VERIFICATION_OPTIONS');
