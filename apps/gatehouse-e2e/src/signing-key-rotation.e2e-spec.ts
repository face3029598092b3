import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, type JSONWebKeySet, type JWK } from 'jose';
import {
  request,
  startService,
  startSuite,
  type BootstrapOutput,
  type RunningSuite,
  type ServiceProcess,
} from '@gatehouse/testing';

interface KeyPair {
  privatePem: string;
  publicPem: string;
  kid: string;
}

async function newKeyPair(): Promise<KeyPair> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    kid: await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }), 'sha256'),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The procedure of docs/OPERATIONS.md "Rotating the token signing key", end to end, with auth-service redeployed (stopped
 * and started on the same port with new variables) at each step and findings-service and admin-api verifying
 * throughout: key A signs; step 1 publishes B beside it; step 2 signs with B and keeps publishing A; step 3 drops
 * A. Each test is one step and relies on the one before.
 */
describe('signing-key rotation', () => {
  let suite: RunningSuite;
  let owner: BootstrapOutput;
  let keyA: KeyPair;
  let keyB: KeyPair;
  /** Issued before the rotation, signed with A; valid for 30 minutes, far longer than this file runs. */
  let tokenA: string;
  let tokenB: string;

  const finding = { rule_id: 'R1', title: 'Hard-coded secret', severity: 'high', location: { path: 'a.ts' } };

  const issueToken = async (): Promise<string> => {
    const response = await request<Record<string, unknown>>(
      `${suite.auth.url}/api/v1/auth/m2m/authenticate`,
      {
        method: 'POST',
        headers: { 'x-api-key': owner.api_key },
        body: { client_id: owner.client_id },
      },
    );
    expect(response.status).toBe(200);
    return response.body['access_token'] as string;
  };

  const kidOf = (token: string) => decodeProtectedHeader(token).kid;

  const publishedKeys = async (): Promise<JWK[]> => {
    const response = await request<JSONWebKeySet>(`${suite.auth.url}/api/v1/auth/jwks`);
    expect(response.status).toBe(200);
    return response.body.keys;
  };

  const upload = (token: string, findings: ServiceProcess = suite.findings[0]) =>
    request<Record<string, unknown>>(`${findings.url}/api/v1/findings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: { findings: [finding] },
    });

  const listKeys = (token: string) =>
    request(`${suite.admin.url}/api/v1/api-keys`, { headers: { authorization: `Bearer ${token}` } });

  /** Another findings-service instance, with an empty key-set cache. */
  const startFreshFindings = () =>
    startService('findings-service', { ...suite.env, JWKS_URL: `${suite.auth.url}/api/v1/auth/jwks` });

  /** JWKS requests the current auth-service process has answered (every request is logged with its URL). */
  const jwksRequests = () => suite.auth.output().split('"url":"/api/v1/auth/jwks"').length - 1;

  const waitForJwksRequests = async (count: number) => {
    for (let attempt = 0; attempt < 40 && jwksRequests() < count; attempt++) await sleep(50);
    return jwksRequests();
  };

  beforeAll(async () => {
    [keyA, keyB] = await Promise.all([newKeyPair(), newKeyPair()]);
    suite = await startSuite({ authEnv: { JWT_SIGNING_KEY: keyA.privatePem } });
    owner = await suite.bootstrap('rotation');
  });

  afterAll(async () => {
    await suite?.stop();
  });

  it('before the rotation: only A is published and tokens carry kid A', async () => {
    expect((await publishedKeys()).map((jwk) => jwk.kid)).toEqual([keyA.kid]);
    tokenA = await issueToken();
    expect(kidOf(tokenA)).toBe(keyA.kid);
  });

  it('step 1 (JWT_NEXT_SIGNING_KEY = B): A and B are published, A still signs', async () => {
    // B's public half is enough here: its private key need not be deployed before step 2.
    await suite.restartAuth({ JWT_SIGNING_KEY: keyA.privatePem, JWT_NEXT_SIGNING_KEY: keyB.publicPem });

    const newToken = await issueToken();
    expect(kidOf(newToken)).toBe(keyA.kid);

    // The verifiers look their keys up now, after step 1, as they do once the documented wait (their 10-minute
    // key-set cache) is over or after a restart: from here on, their cached set holds A and B.
    expect((await upload(tokenA)).status).toBe(201);
    expect((await upload(newToken)).status).toBe(201);
    expect((await listKeys(newToken)).status).toBe(200);
    expect(await waitForJwksRequests(2)).toBe(2);

    const keys = await publishedKeys();
    expect(keys.map((jwk) => jwk.kid)).toEqual([keyA.kid, keyB.kid]);
    for (const jwk of keys) {
      expect(Object.keys(jwk).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    }
  });

  it('step 2 (JWT_SIGNING_KEY = B, JWT_PREVIOUS_SIGNING_KEY = A): new tokens carry kid B and verify at once', async () => {
    await suite.restartAuth({ JWT_SIGNING_KEY: keyB.privatePem, JWT_PREVIOUS_SIGNING_KEY: keyA.privatePem });

    tokenB = await issueToken();
    expect(kidOf(tokenB)).toBe(keyB.kid);
    expect((await upload(tokenB)).status).toBe(201);
    expect((await listKeys(tokenB)).status).toBe(200);

    // The token signed with A before the switch keeps working until it expires.
    expect((await upload(tokenA)).status).toBe(201);
    expect((await listKeys(tokenA)).status).toBe(200);

    // Both verifiers knew B from step 1: no refetch was needed, so the 30 s cooldown between refetches for an
    // unknown kid (which would have refused kid B right after their step-1 fetch) never came into play.
    await sleep(200);
    expect(jwksRequests()).toBe(0);

    // A verifier that learns the key set only now, as every verifier does within 10 minutes, accepts both.
    const fresh = await startFreshFindings();
    try {
      expect((await upload(tokenA, fresh)).status).toBe(201);
      expect((await upload(tokenB, fresh)).status).toBe(201);
    } finally {
      await fresh.stop();
    }

    // Every key is published with its public members only, although A was configured with its private PEM.
    const keys = await publishedKeys();
    expect(keys.map((jwk) => jwk.kid)).toEqual([keyB.kid, keyA.kid]);
    for (const jwk of keys) {
      expect(Object.keys(jwk).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    }
  });

  it('step 3 (JWT_PREVIOUS_SIGNING_KEY removed): A is gone, and a verifier that never cached it refuses A', async () => {
    await suite.restartAuth({ JWT_SIGNING_KEY: keyB.privatePem });

    expect((await publishedKeys()).map((jwk) => jwk.kid)).toEqual([keyB.kid]);
    expect(kidOf(await issueToken())).toBe(keyB.kid);

    // In production step 3 waits until every token signed with A has expired; tokenA has not, which shows
    // that A is no longer accepted by anyone who learns the key set from now on.
    const fresh = await startFreshFindings();
    try {
      const refused = await upload(tokenA, fresh);
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual(expect.objectContaining({ error: 'invalid_token' }));
      expect((await upload(tokenB, fresh)).status).toBe(201);
    } finally {
      await fresh.stop();
    }
  });
});
