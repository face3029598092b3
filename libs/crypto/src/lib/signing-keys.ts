import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export const SIGNING_ALGORITHM = 'RS256';
const MIN_RSA_BITS = 2048;

/** A published key: what verifiers need, the public half only. */
export interface VerificationKey {
  kid: string;
  publicKey: KeyObject;
  /** Only public members (`kty`, `n`, `e`) plus `kid`, `use` and `alg`. */
  publicJwk: JWK;
}

/** A key this process signs with. */
export interface SigningKey extends VerificationKey {
  privateKey: KeyObject;
}

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

function assertRsa(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new SigningKeyError(`RS256 needs an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    throw new SigningKeyError(`RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are required`);
  }
}

async function describePublicKey(publicKey: KeyObject, kid: string | undefined): Promise<VerificationKey> {
  const exported = await exportJWK(publicKey);
  // Listed member by member, so that nothing but the public modulus and exponent can ever be published.
  const publicPart: JWK = { kty: 'RSA', n: exported.n, e: exported.e };
  const resolvedKid = kid ?? (await calculateJwkThumbprint(publicPart, 'sha256'));
  return {
    kid: resolvedKid,
    publicKey,
    publicJwk: { ...publicPart, kid: resolvedKid, use: 'sig', alg: SIGNING_ALGORITHM },
  };
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
  assertRsa(privateKey);
  return { ...(await describePublicKey(createPublicKey(privateKey), kid)), privateKey };
}

/**
 * Loads a key that is only published, from the PEM of either half (a private key, a public key or an X.509
 * certificate). Only the public half is kept. The `kid` is derived exactly as for {@link loadSigningKey}, so a
 * key keeps its `kid` when it moves between signing and being published only.
 */
export async function loadVerificationKey(pem: string, kid?: string): Promise<VerificationKey> {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new SigningKeyError(`not a PEM public or private key (${(error as Error).message})`);
  }
  assertRsa(publicKey);
  return describePublicKey(publicKey, kid);
}

/** Where a key comes from: its PEM, an optional `kid` override, and a name for error messages. */
export interface KeySource {
  pem: string;
  kid?: string;
  /** Named in every error about this key, e.g. the variable it was read from. */
  source: string;
}

/**
 * The keys of one auth-service process. Exactly one signs; up to two more are published so that a rotation
 * never leaves a verifier without the key of a token it is shown.
 */
export interface SigningKeySet {
  /** Signs every new token, and is published. */
  active: SigningKey;
  /** Published, never signs here: the key a coming rotation step will sign with. */
  next?: VerificationKey;
  /** Published, never signs here: the key signing stopped with, kept until the tokens it signed have expired. */
  previous?: VerificationKey;
  /** Every published key, the active one first. */
  published: VerificationKey[];
}

const sameKey = (a: VerificationKey, b: VerificationKey): boolean =>
  a.publicJwk.n === b.publicJwk.n && a.publicJwk.e === b.publicJwk.e;

/**
 * Loads and checks the signing key and the keys published beside it. Each must be RSA of at least 2048 bits,
 * no key may appear twice and no two may share a `kid` (a verifier looks keys up by `kid` alone). Errors name
 * the source of the key at fault and never contain key material.
 */
export async function loadSigningKeySet(sources: {
  active: KeySource;
  next?: KeySource;
  previous?: KeySource;
}): Promise<SigningKeySet> {
  const named = async <T>(source: KeySource, load: () => Promise<T>): Promise<T> => {
    try {
      return await load();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new SigningKeyError(`${source.source}: ${message}`);
    }
  };
  const { active: activeSource, next: nextSource, previous: previousSource } = sources;
  const active = await named(activeSource, () => loadSigningKey(activeSource.pem, activeSource.kid));
  const next = nextSource
    ? await named(nextSource, () => loadVerificationKey(nextSource.pem, nextSource.kid))
    : undefined;
  const previous = previousSource
    ? await named(previousSource, () => loadVerificationKey(previousSource.pem, previousSource.kid))
    : undefined;

  const entries: Array<[VerificationKey, KeySource]> = [[active, activeSource]];
  if (next && nextSource) entries.push([next, nextSource]);
  if (previous && previousSource) entries.push([previous, previousSource]);
  for (let later = 1; later < entries.length; later++) {
    for (let earlier = 0; earlier < later; earlier++) {
      const [key, { source }] = entries[later];
      const [other, { source: otherSource }] = entries[earlier];
      if (sameKey(key, other)) {
        throw new SigningKeyError(
          `${source} holds the same key as ${otherSource}; each must be a different key`,
        );
      }
      if (key.kid === other.kid) {
        throw new SigningKeyError(
          `${source} has kid "${key.kid}", which ${otherSource} already uses; each published key needs its own kid`,
        );
      }
    }
  }
  return { active, next, previous, published: entries.map(([key]) => key) };
}

/** A throwaway key for development only; callers must refuse this path in production. */
export function generateDevelopmentKeyPem(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** RFC 7517 JSON Web Key Set of the public halves. */
export function toJwks(keys: readonly VerificationKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => key.publicJwk) };
}
