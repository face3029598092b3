import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  generateDevelopmentKeyPem,
  loadSigningKey,
  loadSigningKeySet,
  loadVerificationKey,
  SIGNING_ALGORITHM,
  SigningKeyError,
  toJwks,
  type SigningKey,
} from './signing-keys';

/** RFC 7638 thumbprint of an RSA public JWK, computed independently of jose. */
function rfc7638Thumbprint(jwk: { e?: string; n?: string }): string {
  const canonical = JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
  return createHash('sha256').update(canonical).digest('base64url');
}

describe('loadSigningKey', () => {
  let pem: string;
  let otherPem: string;
  let key: SigningKey;

  beforeAll(async () => {
    pem = generateDevelopmentKeyPem();
    otherPem = generateDevelopmentKeyPem();
    key = await loadSigningKey(pem);
  });

  it('loads an RSA private key with its public half', () => {
    expect(key.privateKey.type).toBe('private');
    expect(key.privateKey.asymmetricKeyType).toBe('rsa');
    expect(key.publicKey.type).toBe('public');
    expect(key.privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('derives the kid as the RFC 7638 SHA-256 thumbprint of the public key', () => {
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key.kid).toBe(rfc7638Thumbprint(key.publicJwk));
  });

  it('derives the same kid every time the same key is loaded', async () => {
    const again = await loadSigningKey(pem);
    expect(again.kid).toBe(key.kid);
  });

  it('derives different kids for different keys', async () => {
    const other = await loadSigningKey(otherPem);
    expect(other.kid).not.toBe(key.kid);
  });

  it('uses an explicit kid when one is given', async () => {
    const named = await loadSigningKey(pem, 'key-2030-01');
    expect(named.kid).toBe('key-2030-01');
    expect(named.publicJwk.kid).toBe('key-2030-01');
  });

  it('publishes only the public half, marked for RS256 signatures', () => {
    expect(key.publicJwk).toEqual(
      expect.objectContaining({ kty: 'RSA', kid: key.kid, use: 'sig', alg: SIGNING_ALGORITHM }),
    );
    expect(SIGNING_ALGORITHM).toBe('RS256');
    for (const privatePart of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
      expect(key.publicJwk).not.toHaveProperty(privatePart);
    }
  });

  it('refuses a non-RSA key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(loadSigningKey(ecPem)).rejects.toThrow(SigningKeyError);
    await expect(loadSigningKey(ecPem)).rejects.toThrow(/RSA key, got ec/);
  });

  it('refuses an RSA key smaller than 2048 bits', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const smallPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(loadSigningKey(smallPem)).rejects.toThrow(SigningKeyError);
    await expect(loadSigningKey(smallPem)).rejects.toThrow(/1024 bits; at least 2048/);
  });

  it('refuses text that is not a PEM private key', async () => {
    await expect(loadSigningKey('not a key at all')).rejects.toThrow(SigningKeyError);
    await expect(loadSigningKey('not a key at all')).rejects.toThrow(/not a PEM private key/);
  });

  it('refuses a public key PEM', async () => {
    const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await expect(loadSigningKey(publicPem)).rejects.toThrow(SigningKeyError);
  });
});

describe('generateDevelopmentKeyPem', () => {
  it('produces a PKCS#8 PEM that loadSigningKey accepts', async () => {
    const pem = generateDevelopmentKeyPem();
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    await expect(loadSigningKey(pem)).resolves.toEqual(expect.objectContaining({ kid: expect.any(String) }));
  });
});

describe('toJwks', () => {
  it('lists the public JWK of every key in order', async () => {
    const first = await loadSigningKey(generateDevelopmentKeyPem(), 'first');
    const second = await loadSigningKey(generateDevelopmentKeyPem(), 'second');
    const jwks = toJwks([first, second]);
    expect(jwks.keys.map((jwk) => jwk.kid)).toEqual(['first', 'second']);
    expect(jwks.keys[0]).toBe(first.publicJwk);
    expect(toJwks([])).toEqual({ keys: [] });
  });
});

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const publicPemOf = (pem: string): string =>
  createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();

describe('loadVerificationKey', () => {
  let pem: string;

  beforeAll(() => {
    pem = generateDevelopmentKeyPem();
  });

  it('takes a public key PEM and derives the same kid as the private key signing with it', async () => {
    const signing = await loadSigningKey(pem);
    const published = await loadVerificationKey(publicPemOf(pem));
    expect(published.kid).toBe(signing.kid);
    expect(published.publicJwk).toEqual(signing.publicJwk);
  });

  it('takes a PKCS#1 public key PEM as well', async () => {
    const pkcs1 = createPublicKey(pem).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toMatch(/^-----BEGIN RSA PUBLIC KEY-----/);
    expect((await loadVerificationKey(pkcs1)).kid).toBe((await loadSigningKey(pem)).kid);
  });

  it('takes a private key PEM but keeps only its public half', async () => {
    const published = await loadVerificationKey(pem);
    expect(published).not.toHaveProperty('privateKey');
    expect(published.publicKey.type).toBe('public');
    for (const member of PRIVATE_MEMBERS) expect(published.publicJwk).not.toHaveProperty(member);
  });

  it('uses an explicit kid when one is given', async () => {
    expect((await loadVerificationKey(publicPemOf(pem), 'key-2029-12')).publicJwk.kid).toBe('key-2029-12');
  });

  it('refuses a non-RSA key, a small RSA key and text that is not a key', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    await expect(loadVerificationKey(ec.export({ type: 'spki', format: 'pem' }).toString())).rejects.toThrow(
      /RSA key, got ec/,
    );
    await expect(
      loadVerificationKey(small.export({ type: 'spki', format: 'pem' }).toString()),
    ).rejects.toThrow(/1024 bits; at least 2048/);
    await expect(loadVerificationKey('-----BEGIN PUBLIC KEY-----\nnope')).rejects.toThrow(SigningKeyError);
    await expect(loadVerificationKey('nope')).rejects.toThrow(/not a PEM public or private key/);
  });
});

describe('loadSigningKeySet', () => {
  let pemA: string;
  let pemB: string;
  let pemC: string;

  beforeAll(() => {
    [pemA, pemB, pemC] = [
      generateDevelopmentKeyPem(),
      generateDevelopmentKeyPem(),
      generateDevelopmentKeyPem(),
    ];
  });

  const active = (pem: string, kid?: string) => ({ pem, kid, source: 'JWT_SIGNING_KEY' });
  const next = (pem: string, kid?: string) => ({ pem, kid, source: 'JWT_NEXT_SIGNING_KEY' });
  const previous = (pem: string, kid?: string) => ({ pem, kid, source: 'JWT_PREVIOUS_SIGNING_KEY' });

  it('publishes the signing key alone when nothing else is configured', async () => {
    const keys = await loadSigningKeySet({ active: active(pemA) });
    expect(keys.active.privateKey.type).toBe('private');
    expect(keys.next).toBeUndefined();
    expect(keys.previous).toBeUndefined();
    expect(keys.published).toEqual([keys.active]);
  });

  it('step 1: publishes the next key beside the one that signs, from its public PEM alone', async () => {
    const keys = await loadSigningKeySet({ active: active(pemA), next: next(publicPemOf(pemB)) });
    const [kidA, kidB] = [(await loadSigningKey(pemA)).kid, (await loadSigningKey(pemB)).kid];
    expect(keys.active.kid).toBe(kidA);
    expect(keys.next?.kid).toBe(kidB);
    expect(keys.published.map((key) => key.kid)).toEqual([kidA, kidB]);
  });

  it('step 2: signs with the new key and keeps publishing the previous one under its old kid', async () => {
    const before = await loadSigningKeySet({ active: active(pemA), next: next(pemB) });
    const after = await loadSigningKeySet({ active: active(pemB), previous: previous(pemA) });
    expect(after.active.kid).toBe(before.next?.kid);
    expect(after.previous?.kid).toBe(before.active.kid);
    expect(after.previous).not.toHaveProperty('privateKey');
    // Replicas on either side of the rolling update publish the same two keys.
    expect(new Set(after.published.map((key) => key.kid))).toEqual(
      new Set(before.published.map((key) => key.kid)),
    );
  });

  it('keeps explicit kids when a key moves from next to signing to previous', async () => {
    const step1 = await loadSigningKeySet({ active: active(pemA, 'a'), next: next(pemB, 'b') });
    const step2 = await loadSigningKeySet({ active: active(pemB, 'b'), previous: previous(pemA, 'a') });
    expect(step1.published.map((key) => key.kid)).toEqual(['a', 'b']);
    expect(step2.published.map((key) => key.kid)).toEqual(['b', 'a']);
  });

  it('publishes three keys when the next rotation starts before the previous key is dropped', async () => {
    const keys = await loadSigningKeySet({
      active: active(pemB),
      next: next(pemC),
      previous: previous(pemA),
    });
    expect(keys.published).toHaveLength(3);
    expect(keys.published[0]).toBe(keys.active);
  });

  it('names the variable of a key that cannot be loaded', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    await expect(loadSigningKeySet({ active: active('garbage') })).rejects.toThrow(
      /^JWT_SIGNING_KEY: not a PEM private key/,
    );
    await expect(loadSigningKeySet({ active: active(publicPemOf(pemA)) })).rejects.toThrow(
      /^JWT_SIGNING_KEY: not a PEM private key/,
    );
    await expect(loadSigningKeySet({ active: active(pemA), next: next(small) })).rejects.toThrow(
      /^JWT_NEXT_SIGNING_KEY: RSA key has 1024 bits/,
    );
    await expect(loadSigningKeySet({ active: active(pemA), previous: previous('garbage') })).rejects.toThrow(
      /^JWT_PREVIOUS_SIGNING_KEY: not a PEM public or private key/,
    );
  });

  it('never puts key material in an error', async () => {
    const secret = pemA.split('\n')[3];
    const error = await loadSigningKeySet({
      active: active(pemA),
      next: next(`${pemA.slice(0, 200)}`),
    }).catch((caught: unknown) => caught as Error);
    expect(error).toBeInstanceOf(SigningKeyError);
    expect((error as Error).message).not.toContain(secret);
  });

  it('refuses the same key in two roles, even under different kids', async () => {
    await expect(loadSigningKeySet({ active: active(pemA), next: next(publicPemOf(pemA)) })).rejects.toThrow(
      'JWT_NEXT_SIGNING_KEY holds the same key as JWT_SIGNING_KEY',
    );
    await expect(
      loadSigningKeySet({ active: active(pemA, 'one'), previous: previous(pemA, 'two') }),
    ).rejects.toThrow('JWT_PREVIOUS_SIGNING_KEY holds the same key as JWT_SIGNING_KEY');
    await expect(
      loadSigningKeySet({ active: active(pemA), next: next(pemB), previous: previous(pemB) }),
    ).rejects.toThrow('JWT_PREVIOUS_SIGNING_KEY holds the same key as JWT_NEXT_SIGNING_KEY');
  });

  it('refuses two keys sharing a kid', async () => {
    await expect(loadSigningKeySet({ active: active(pemA, 'k1'), next: next(pemB, 'k1') })).rejects.toThrow(
      /^JWT_NEXT_SIGNING_KEY has kid "k1", which JWT_SIGNING_KEY already uses/,
    );
    const kidB = (await loadSigningKey(pemB)).kid;
    await expect(loadSigningKeySet({ active: active(pemA, kidB), previous: previous(pemB) })).rejects.toThrow(
      `JWT_PREVIOUS_SIGNING_KEY has kid "${kidB}", which JWT_SIGNING_KEY already uses`,
    );
  });

  it('publishes every kid and nothing but public members in the JWKS', async () => {
    const keys = await loadSigningKeySet({
      active: active(pemB),
      next: next(pemC),
      previous: previous(pemA),
    });
    const jwks = toJwks(keys.published);
    expect(jwks.keys.map((jwk) => jwk.kid)).toEqual([keys.active.kid, keys.next?.kid, keys.previous?.kid]);
    for (const jwk of jwks.keys) {
      expect(Object.keys(jwk).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
      expect(jwk).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256' });
    }
    expect(JSON.stringify(jwks)).not.toMatch(/"(d|p|q|dp|dq|qi)":/);
  });
});
