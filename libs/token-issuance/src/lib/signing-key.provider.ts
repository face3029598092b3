import { Logger, type Provider } from '@nestjs/common';
import { generateDevelopmentKeyPem, loadSigningKey, toJwks, type SigningKey } from '@gatehouse/crypto';
import { TOKEN_ISSUANCE_OPTIONS, type TokenIssuanceOptions } from './token-issuance-options';

export const ACTIVE_SIGNING_KEY = Symbol('ACTIVE_SIGNING_KEY');

/** The JWKS document, serialised once at start: the endpoint serves a constant. */
export class PublishedKeys {
  readonly jwks: { keys: unknown[] };

  constructor(keys: readonly SigningKey[]) {
    this.jwks = toJwks(keys);
  }
}

export const signingKeyProviders: Provider[] = [
  {
    provide: ACTIVE_SIGNING_KEY,
    inject: [TOKEN_ISSUANCE_OPTIONS],
    useFactory: async (options: TokenIssuanceOptions): Promise<SigningKey> => {
      if (options.signingKeyPem) return loadSigningKey(options.signingKeyPem, options.signingKeyId);
      if (!options.allowDevelopmentKey) {
        throw new Error('JWT_SIGNING_KEY or JWT_SIGNING_KEY_FILE is required when NODE_ENV=production');
      }
      const key = await loadSigningKey(generateDevelopmentKeyPem(), options.signingKeyId);
      new Logger('SigningKeys').warn(
        `No JWT_SIGNING_KEY configured: generated a throwaway development key (kid ${key.kid}). ` +
          'Tokens die with this process and replicas will not agree; never run production like this.',
      );
      return key;
    },
  },
  {
    provide: PublishedKeys,
    inject: [ACTIVE_SIGNING_KEY],
    useFactory: (key: SigningKey) => new PublishedKeys([key]),
  },
];
