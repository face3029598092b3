import { createPublicKey } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { generateDevelopmentKeyPem, loadSigningKey, TokenSigner, type SigningKey } from '@gatehouse/crypto';
import { ACTIVE_SIGNING_KEY, PublishedKeys, signingKeyProviders } from './signing-key.provider';
import { TOKEN_ISSUANCE_OPTIONS, type TokenIssuanceOptions } from './token-issuance-options';

const base: TokenIssuanceOptions = {
  issuer: 'iss',
  audience: 'aud',
  allowDevelopmentKey: false,
  usageFlushIntervalMs: 1000,
  usageRetentionDays: 30,
};

const publicPemOf = (pem: string): string =>
  createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();

async function start(options: Partial<TokenIssuanceOptions>) {
  const module = await Test.createTestingModule({
    providers: [
      { provide: TOKEN_ISSUANCE_OPTIONS, useValue: { ...base, ...options } },
      ...signingKeyProviders,
    ],
  }).compile();
  return {
    active: module.get<SigningKey>(ACTIVE_SIGNING_KEY),
    jwks: module.get(PublishedKeys).jwks as JSONWebKeySet,
  };
}

describe('signing-key providers', () => {
  let pemA: string;
  let pemB: string;
  let kidA: string;
  let kidB: string;

  beforeAll(async () => {
    [pemA, pemB] = [generateDevelopmentKeyPem(), generateDevelopmentKeyPem()];
    [kidA, kidB] = [(await loadSigningKey(pemA)).kid, (await loadSigningKey(pemB)).kid];
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterAll(() => {
    jest.restoreAllMocks();
  });

  const sign = (key: SigningKey) =>
    new TokenSigner(key, { issuer: 'iss', audience: 'aud' }).sign(
      {
        org: 'o',
        api_key_id: 'k',
        client_id: 'c',
        permissions: [],
        key_version: 1,
        rate_limit: { requests_per_minute: 60, burst: 10 },
      },
      'c',
      Math.floor(Date.now() / 1000),
      Math.floor(Date.now() / 1000) + 60,
    );

  it('publishes only the signing key by default', async () => {
    const { active, jwks } = await start({ signingKeyPem: pemA });
    expect(active.kid).toBe(kidA);
    expect(jwks.keys.map((key) => key.kid)).toEqual([kidA]);
  });

  it('step 1: still signs with the current key while publishing the next one', async () => {
    const { active, jwks } = await start({
      signingKeyPem: pemA,
      nextSigningKey: { pem: publicPemOf(pemB), source: 'JWT_NEXT_SIGNING_KEY' },
    });
    expect(active.kid).toBe(kidA);
    expect(jwks.keys.map((key) => key.kid)).toEqual([kidA, kidB]);
    const { token } = await sign(active);
    expect(decodeProtectedHeader(token).kid).toBe(kidA);
  });

  it('step 2: signs with the new key; tokens of either key verify against the published set', async () => {
    const step1 = await start({
      signingKeyPem: pemA,
      nextSigningKey: { pem: pemB, source: 'JWT_NEXT_SIGNING_KEY' },
    });
    const step2 = await start({
      signingKeyPem: pemB,
      previousSigningKey: { pem: pemA, source: 'JWT_PREVIOUS_SIGNING_KEY' },
    });
    expect(step2.active.kid).toBe(kidB);
    const oldToken = (await sign(step1.active)).token;
    const newToken = (await sign(step2.active)).token;
    expect(decodeProtectedHeader(newToken).kid).toBe(kidB);
    // During the rolling update a verifier may have fetched the set from a replica on either side.
    for (const { jwks } of [step1, step2]) {
      const keySet = createLocalJWKSet(jwks);
      await expect(jwtVerify(oldToken, keySet, { issuer: 'iss', audience: 'aud' })).resolves.toBeDefined();
      await expect(jwtVerify(newToken, keySet, { issuer: 'iss', audience: 'aud' })).resolves.toBeDefined();
    }
    for (const jwk of step2.jwks.keys) expect(jwk).not.toHaveProperty('d');
  });

  it('refuses to start with a bad published key, naming its variable', async () => {
    await expect(
      start({
        signingKeyPem: pemA,
        previousSigningKey: { pem: 'not a key', source: 'JWT_PREVIOUS_SIGNING_KEY_FILE (/run/secrets/old)' },
      }),
    ).rejects.toThrow(/^JWT_PREVIOUS_SIGNING_KEY_FILE \(\/run\/secrets\/old\): not a PEM/);
    await expect(
      start({ signingKeyPem: pemA, nextSigningKey: { pem: pemA, source: 'JWT_NEXT_SIGNING_KEY' } }),
    ).rejects.toThrow('JWT_NEXT_SIGNING_KEY holds the same key as JWT_SIGNING_KEY');
  });

  it('names where the signing key came from when it is unusable', async () => {
    await expect(
      start({ signingKeyPem: publicPemOf(pemA), signingKeySource: 'JWT_SIGNING_KEY_FILE (/k.pem)' }),
    ).rejects.toThrow(/^JWT_SIGNING_KEY_FILE \(\/k\.pem\): not a PEM private key/);
    await expect(start({ signingKeyPem: 'nope' })).rejects.toThrow(/^JWT_SIGNING_KEY: not a PEM private key/);
  });

  it('without a signing key, refuses production and generates a throwaway key otherwise', async () => {
    await expect(start({ nextSigningKey: { pem: pemB, source: 'JWT_NEXT_SIGNING_KEY' } })).rejects.toThrow(
      'JWT_SIGNING_KEY or JWT_SIGNING_KEY_FILE is required when NODE_ENV=production',
    );
    const { active, jwks } = await start({
      allowDevelopmentKey: true,
      nextSigningKey: { pem: pemB, source: 'JWT_NEXT_SIGNING_KEY' },
    });
    expect(active.kid).not.toBe(kidB);
    expect(jwks.keys.map((key) => key.kid)).toEqual([active.kid, kidB]);
  });
});
