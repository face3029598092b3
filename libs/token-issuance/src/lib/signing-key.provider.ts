import { Logger, type Provider } from '@nestjs/common';
import {
  generateDevelopmentKeyPem,
  loadSigningKeySet,
  toJwks,
  type KeySource,
  type SigningKey,
  type SigningKeySet,
  type VerificationKey,
} from '@gatehouse/crypto';
import { TOKEN_ISSUANCE_OPTIONS, type TokenIssuanceOptions } from './token-issuance-options';

export const SIGNING_KEY_SET = Symbol('SIGNING_KEY_SET');
export const ACTIVE_SIGNING_KEY = Symbol('ACTIVE_SIGNING_KEY');

/** The JWKS document, serialised once at start: the endpoint serves a constant. */
export class PublishedKeys {
  readonly jwks: { keys: unknown[] };

  constructor(keys: readonly VerificationKey[]) {
    this.jwks = toJwks(keys);
  }
}

/**
 * Loads the signing key and the keys published beside it during a rotation (see docs/OPERATIONS.md, "Rotating the token
 * signing key"), refusing the start with an error naming the variable at fault.
 */
export async function loadConfiguredKeys(options: TokenIssuanceOptions): Promise<SigningKeySet> {
  const logger = new Logger('SigningKeys');
  let active: KeySource;
  let generated = false;
  if (options.signingKeyPem) {
    active = {
      pem: options.signingKeyPem,
      kid: options.signingKeyId,
      source: options.signingKeySource ?? 'JWT_SIGNING_KEY',
    };
  } else if (options.allowDevelopmentKey) {
    active = { pem: generateDevelopmentKeyPem(), kid: options.signingKeyId, source: 'development key' };
    generated = true;
  } else {
    throw new Error('JWT_SIGNING_KEY or JWT_SIGNING_KEY_FILE is required when NODE_ENV=production');
  }
  const keys = await loadSigningKeySet({
    active,
    next: options.nextSigningKey,
    previous: options.previousSigningKey,
  });
  if (generated) {
    logger.warn(
      `No JWT_SIGNING_KEY configured: generated a throwaway development key (kid ${keys.active.kid}). ` +
        'Tokens die with this process and replicas will not agree; never run production like this.',
    );
  }
  logger.log(
    `Signing with kid ${keys.active.kid}` +
      (keys.next ? `; publishing next kid ${keys.next.kid}` : '') +
      (keys.previous ? `; publishing previous kid ${keys.previous.kid}` : ''),
  );
  return keys;
}

export const signingKeyProviders: Provider[] = [
  { provide: SIGNING_KEY_SET, inject: [TOKEN_ISSUANCE_OPTIONS], useFactory: loadConfiguredKeys },
  {
    provide: ACTIVE_SIGNING_KEY,
    inject: [SIGNING_KEY_SET],
    useFactory: (keys: SigningKeySet): SigningKey => keys.active,
  },
  {
    provide: PublishedKeys,
    inject: [SIGNING_KEY_SET],
    useFactory: (keys: SigningKeySet) => new PublishedKeys(keys.published),
  },
];
