import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export const SIGNING_ALGORITHM = 'RS256';
const MIN_RSA_BITS = 2048;

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

/**
 * Loads an RSA private key from PEM. The key id is the RFC 7638 thumbprint unless one is given, so every
 * replica derives the same `kid` from the same key without extra configuration.
 */
export async function loadSigningKey(privateKeyPem: string, kid?: string): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: privateKeyPem, format: 'pem' });
  } catch (error) {
    throw new SigningKeyError(`not a PEM private key (${(error as Error).message})`);
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new SigningKeyError(`RS256 needs an RSA key, got ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    throw new SigningKeyError(`RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are required`);
  }
  const publicKey = createPublicKey(privateKey);
  const exported = await exportJWK(publicKey);
  const resolvedKid = kid ?? (await calculateJwkThumbprint(exported, 'sha256'));
  const publicJwk: JWK = { ...exported, kid: resolvedKid, use: 'sig', alg: SIGNING_ALGORITHM };
  return { kid: resolvedKid, privateKey, publicKey, publicJwk };
}

/** A throwaway key for development only; callers must refuse this path in production. */
export function generateDevelopmentKeyPem(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** RFC 7517 JSON Web Key Set of the public halves. */
export function toJwks(keys: readonly SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => key.publicJwk) };
}
