import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Test, type TestingModule } from '@nestjs/testing';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { DataSource } from 'typeorm';
// Keys are made the way admin-api makes them; only this test crosses from the auth scope into the admin one.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { ApiKeysModule, ApiKeysService, type Actor, type CreatedApiKeyView } from '@gatehouse/api-keys';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  CLOCK,
  GatehouseError,
  PERMISSIONS,
  type ErrorCode,
} from '@gatehouse/contracts';
import { generateDevelopmentKeyPem, loadSigningKey, toJwks } from '@gatehouse/crypto';
import { HealthModule } from '@gatehouse/http';
import { PersistenceModule, runMigrations } from '@gatehouse/persistence';
import { RedisKeyEventBus, RevocationModule, RevocationRegistry } from '@gatehouse/revocation';
import {
  createTestDatabase,
  TEST_REDIS_URL,
  uniqueChannel,
  type TestDatabase,
  ManualClock,
} from '@gatehouse/testing';
import { PublishedKeys } from './signing-key.provider';
import { TokenIssuanceModule } from './token-issuance.module';
import { TokenIssuanceService } from './token-issuance.service';
import { UsageLog } from './usage-log';
import { UsageRecorder } from './usage-recorder';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const ISSUER = 'it';
const AUDIENCE = 'it-api';
const IP = '203.0.113.7';

/** Fixed unless a test moves it; reset to NOW before every test. */
const fixedClock = new ManualClock(NOW);

async function expectError(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a ${code} error, but the call succeeded`);
    },
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(GatehouseError);
  expect(error).toMatchObject({ code });
}

describe('TokenIssuanceService (PostgreSQL, Redis)', () => {
  const channel = uniqueChannel();
  let database: TestDatabase;
  let app: TestingModule;
  let apiKeys: ApiKeysService;
  let tokens: TokenIssuanceService;
  let usage: UsageRecorder;
  let dataSource: DataSource;
  let owner: Actor;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: (url) => runMigrations({ url }) });
    app = await Test.createTestingModule({
      imports: [
        HealthModule.forRoot(),
        PersistenceModule.forRoot({ url: database.url, poolSize: 4 }),
        RevocationModule.forRoot({
          transport: 'redis',
          redis: TEST_REDIS_URL,
          channel,
          reconcileIntervalMs: 60_000,
          clockToleranceSeconds: 5,
        }),
        ApiKeysModule.forRoot({ maxLifetimeDays: 90 }),
        TokenIssuanceModule.forRoot({
          issuer: ISSUER,
          audience: AUDIENCE,
          signingKeyPem: generateDevelopmentKeyPem(),
          allowDevelopmentKey: false,
          usageFlushIntervalMs: 60_000,
          usageRetentionDays: 30,
        }),
      ],
    })
      .overrideProvider(CLOCK)
      .useValue(fixedClock)
      .compile();
    app.useLogger(false);
    await app.init();
    apiKeys = app.get(ApiKeysService);
    tokens = app.get(TokenIssuanceService);
    usage = app.get(UsageRecorder);
    dataSource = app.get(DataSource);
    const bootstrap = await apiKeys.bootstrap('token-org', 'pro');
    owner = {
      organizationId: bootstrap.organization.id,
      permissions: PERMISSIONS,
      type: 'system',
      subject: 'system:test',
      ip: null,
      requestId: null,
    };
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  beforeEach(() => fixedClock.set(NOW));

  function newKey(expiresAt?: Date): Promise<CreatedApiKeyView> {
    return apiKeys.create(owner, {
      name: 'Scanner',
      client_id: `scanner-${randomBytes(4).toString('hex')}`,
      permissions: ['write:findings', 'read:findings'],
      expires_at: expiresAt?.toISOString(),
    });
  }

  function authenticate(key: CreatedApiKeyView, clientId = key.client_id) {
    return tokens.authenticate({ apiKey: key.api_key, clientId, ip: IP });
  }

  async function claimsOf(token: string) {
    const jwks = createLocalJWKSet(app.get(PublishedKeys).jwks as JSONWebKeySet);
    const { payload } = await jwtVerify(token, jwks, {
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: fixedClock.now(),
    });
    return payload;
  }

  it('issues a token that verifies against the published JWKS', async () => {
    const key = await newKey();

    const issued = await authenticate(key);

    expect(issued).toEqual({
      access_token: expect.any(String),
      token_type: 'bearer',
      expires_in: ACCESS_TOKEN_TTL_SECONDS,
      client_id: key.client_id,
      api_key_id: key.id,
    });
    const jwks = createLocalJWKSet(app.get(PublishedKeys).jwks as JSONWebKeySet);
    const { payload, protectedHeader } = await jwtVerify(issued.access_token, jwks, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['RS256'],
      currentDate: NOW,
    });
    const issuedAt = NOW.getTime() / 1000;
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: expect.any(String) });
    expect(payload).toEqual({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: key.client_id,
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + ACCESS_TOKEN_TTL_SECONDS,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      org: owner.organizationId,
      api_key_id: key.id,
      client_id: key.client_id,
      permissions: ['read:findings', 'write:findings'],
      key_version: 1,
      rate_limit: { requests_per_minute: 300, burst: 50 },
    });
  });

  it('refuses a token for another audience or signed by another key', async () => {
    const key = await newKey();
    const issued = await authenticate(key);
    const jwks = createLocalJWKSet(app.get(PublishedKeys).jwks as JSONWebKeySet);

    await expect(
      jwtVerify(issued.access_token, jwks, { audience: 'other-api', currentDate: NOW }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
    // Same kid, different key: what a forged token signed elsewhere would look like.
    const impostor = await loadSigningKey(
      generateDevelopmentKeyPem(),
      decodeProtectedHeader(issued.access_token).kid,
    );
    const stranger = createLocalJWKSet(toJwks([impostor]));
    await expect(jwtVerify(issued.access_token, stranger, { currentDate: NOW })).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });

  it('records the last use on flush', async () => {
    const key = await newKey();
    await authenticate(key);
    expect(usage.pendingCount).toBeGreaterThan(0);

    await usage.flush();

    expect(usage.pendingCount).toBe(0);
    const [row] = await dataSource.query<{ last_used_at: Date; last_used_ip: string }[]>(
      `SELECT last_used_at, last_used_ip FROM api_keys WHERE id = $1`,
      [key.id],
    );
    expect(row).toEqual({ last_used_at: NOW, last_used_ip: IP });
    expect(await apiKeys.get(owner.organizationId, key.id)).toMatchObject({
      last_used_at: NOW.toISOString(),
      last_used_ip: IP,
    });
  });

  it('refuses a wrong client_id, a malformed key and an unknown key', async () => {
    const key = await newKey();
    await expectError(authenticate(key, 'someone-else'), 'client_id_mismatch');
    await expectError(
      tokens.authenticate({ apiKey: undefined, clientId: key.client_id, ip: IP }),
      'missing_api_key',
    );
    await expectError(
      tokens.authenticate({ apiKey: `${key.api_key.slice(0, -1)}x`, clientId: key.client_id, ip: IP }),
      'invalid_api_key',
    );
    const other = await newKey();
    await apiKeys.delete(owner, other.id);
    await expectError(authenticate(other), 'api_key_not_found');
  });

  it('refuses a key that expires within the next second', async () => {
    const key = await newKey(new Date(NOW.getTime() + 999));
    await expectError(authenticate(key), 'key_expired');
    const later = await newKey(new Date(NOW.getTime() + 10_000));
    expect((await authenticate(later)).expires_in).toBe(10);
  });

  it('refuses a cached key as soon as ApiKeysService revokes it', async () => {
    const key = await newKey();
    await authenticate(key);
    // Prove the record is served from the cache: a change made behind the service's back is not seen.
    await dataSource.query(`UPDATE api_keys SET permissions = ARRAY['read:findings'] WHERE id = $1`, [
      key.id,
    ]);
    const cached = await authenticate(key);
    const jwks = createLocalJWKSet(app.get(PublishedKeys).jwks as JSONWebKeySet);
    const { payload } = await jwtVerify(cached.access_token, jwks, { currentDate: NOW });
    expect(payload['permissions']).toEqual(['read:findings', 'write:findings']);

    await apiKeys.revoke(owner, key.id);

    await expectError(authenticate(key), 'api_key_revoked');
  });

  it('refuses a cached key once another node broadcasts its revocation', async () => {
    const key = await newKey();
    await authenticate(key);
    const otherNode = new RedisKeyEventBus({ redis: TEST_REDIS_URL, channel });
    try {
      const publisher = otherNode['publisher'];
      if (publisher.status !== 'ready') await once(publisher, 'ready');
      await dataSource.query(`UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, [key.id, NOW]);
      await expect(
        otherNode.publish({
          type: 'key_revoked',
          apiKeyId: key.id,
          organizationId: owner.organizationId,
          revokedAt: NOW.toISOString(),
          reason: 'revoked',
        }),
      ).resolves.toBe(true);

      const deadline = Date.now() + 5_000;
      let outcome: unknown;
      do {
        outcome = await authenticate(key).catch((error: unknown) => error);
        if (!(outcome instanceof GatehouseError)) await new Promise((resolve) => setTimeout(resolve, 10));
      } while (!(outcome instanceof GatehouseError) && Date.now() < deadline);
      expect(outcome).toMatchObject({ code: 'api_key_revoked' });
    } finally {
      await otherNode.close();
    }
  });

  it('answers api_key_not_found once a cached key is deleted', async () => {
    const key = await newKey();
    await authenticate(key);

    await apiKeys.delete(owner, key.id);

    await expectError(authenticate(key), 'api_key_not_found');
  });

  it('answers api_key_not_found for a deleted key that had been revoked first', async () => {
    const key = await newKey();
    await authenticate(key);
    await apiKeys.revoke(owner, key.id);
    await expectError(authenticate(key), 'api_key_revoked');

    await apiKeys.delete(owner, key.id);

    await expectError(authenticate(key), 'api_key_not_found');
  });

  describe('rotation', () => {
    let registry: RevocationRegistry;

    beforeAll(() => {
      registry = app.get(RevocationRegistry);
    });

    /** The key's secret before the rotation, and the rotated view holding the new one. */
    async function rotatedKey(
      graceSeconds: number,
      expiresAt?: Date,
    ): Promise<{ old: CreatedApiKeyView; rotated: CreatedApiKeyView }> {
      const old = await newKey(expiresAt);
      const rotated = await apiKeys.rotate(owner, old.id, { grace_period_seconds: graceSeconds });
      return { old, rotated };
    }

    it('accepts both secrets for the same key during the grace period', async () => {
      const { old, rotated } = await rotatedKey(3_600);
      expect(rotated.api_key).not.toBe(old.api_key);
      expect(rotated).toMatchObject({ id: old.id, key_version: 2, state: 'rotating' });

      const fromNew = await authenticate(rotated);
      const fromOld = await authenticate(old);

      expect(fromNew.api_key_id).toBe(old.id);
      expect(fromOld.api_key_id).toBe(old.id);
      expect(await claimsOf(fromNew.access_token)).toMatchObject({ api_key_id: old.id, key_version: 2 });
      expect(await claimsOf(fromOld.access_token)).toMatchObject({ api_key_id: old.id, key_version: 1 });
    });

    it('caps tokens from the previous secret at its retirement, even one cached before the rotation', async () => {
      const old = await newKey();
      await authenticate(old); // cached as the current secret, version 1, before the rotation
      const rotated = await apiKeys.rotate(owner, old.id, { grace_period_seconds: 600 });
      const retiresAt = new Date(rotated.rotation?.previous_retires_at ?? '');
      expect(retiresAt).toEqual(new Date(NOW.getTime() + 600_000));

      const fromOld = await authenticate(old);

      expect(fromOld.expires_in).toBe(600);
      const claims = await claimsOf(fromOld.access_token);
      expect(claims.key_version).toBe(1);
      expect((claims.exp as number) * 1000).toBeLessThanOrEqual(retiresAt.getTime());
      expect((await authenticate(rotated)).expires_in).toBe(ACCESS_TOKEN_TTL_SECONDS);
    });

    it('refuses the previous secret and tokens of its version once the grace period ends, without a finish', async () => {
      const { old: cached, rotated: cachedRotated } = await rotatedKey(600);
      const { old: uncached } = await rotatedKey(600);
      const token = await authenticate(cached); // the cached path
      expect(registry.isRevoked(cached.id, 1)).toBe(false);

      fixedClock.advance(600_000 - 1);
      await expect(authenticate(cached)).resolves.toMatchObject({ api_key_id: cached.id });
      expect(registry.isRevoked(cached.id, 1)).toBe(false);

      fixedClock.advance(1); // exactly previous_retires_at
      await expectError(authenticate(cached), 'api_key_revoked');
      await expectError(authenticate(uncached), 'api_key_revoked'); // read from PostgreSQL
      expect(registry.isRevoked(cached.id, 1)).toBe(true);
      expect(registry.isRevoked(cached.id, 2)).toBe(false);
      // Its tokens were capped at the retirement, so they have expired by now as well.
      await expect(claimsOf(token.access_token)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
      await expect(authenticate(cachedRotated)).resolves.toMatchObject({ api_key_id: cached.id });

      // Nobody called finish: the view no longer says rotating all the same.
      const [row] = await dataSource.query<{ previous_key_hash: Buffer | null }[]>(
        `SELECT previous_key_hash FROM api_keys WHERE id = $1`,
        [cached.id],
      );
      expect(row.previous_key_hash).toEqual(expect.any(Buffer));
      expect(await apiKeys.get(owner.organizationId, cached.id)).toMatchObject({
        state: 'active',
        rotation: null,
      });
    });

    it('refuses the previous secret and its tokens at once after finishRotation', async () => {
      const { old, rotated } = await rotatedKey(86_400);
      const before = await authenticate(old);
      expect(await claimsOf(before.access_token)).toMatchObject({ key_version: 1 });

      const finished = await apiKeys.finishRotation(owner, old.id);

      expect(finished).toMatchObject({ state: 'active', key_version: 2, rotation: null });
      expect(registry.isRevoked(old.id, 1)).toBe(true);
      expect(registry.isRevoked(old.id, 2)).toBe(false);
      expect(registry.isRevoked(old.id)).toBe(false);
      // The previous hash is kept, so the old secret is told it was replaced (401), not that it is unknown.
      await expectError(authenticate(old), 'api_key_revoked');
      await expect(authenticate(rotated)).resolves.toMatchObject({ api_key_id: old.id });
    });

    it('retires the previous secret at once with a grace period of 0', async () => {
      const old = await newKey();
      const token = await authenticate(old);

      const rotated = await apiKeys.rotate(owner, old.id, { grace_period_seconds: 0 });

      expect(rotated).toMatchObject({ key_version: 2, state: 'active', rotation: null });
      expect(registry.isRevoked(old.id, 1)).toBe(true);
      expect(await claimsOf(token.access_token)).toMatchObject({ key_version: 1 });
      await expectError(authenticate(old), 'api_key_revoked');
      expect(await claimsOf((await authenticate(rotated)).access_token)).toMatchObject({ key_version: 2 });
    });
    // secret as the previous one, so a secret that was already refused with key_expired authenticates again for
    // the whole grace period (up to 7 days). Fix: refuse to rotate an expired key (conflict), or store no
    // previous secret (grace 0) when the key had expired.
    it('does not bring an expired secret back to life by rotating its key', async () => {
      const old = await newKey(new Date(NOW.getTime() + 60_000));
      fixedClock.advance(120_000);
      await expectError(authenticate(old), 'key_expired');

      await apiKeys.rotate(owner, old.id, { grace_period_seconds: 3_600 }).catch(() => undefined);

      await expect(authenticate(old)).rejects.toBeInstanceOf(GatehouseError);
    });

    it('evicts both cached secrets when a rotating key is revoked', async () => {
      const { old, rotated } = await rotatedKey(3_600);
      await authenticate(old);
      await authenticate(rotated);

      await apiKeys.revoke(owner, old.id);

      await expectError(authenticate(old), 'api_key_revoked');
      await expectError(authenticate(rotated), 'api_key_revoked');
    });
  });

  describe('rate limit claim', () => {
    const PRO = { requests_per_minute: 300, burst: 50 };

    async function rateLimitOf(key: CreatedApiKeyView): Promise<unknown> {
      return (await claimsOf((await authenticate(key)).access_token))['rate_limit'];
    }

    /** Polls until a token of the key carries `expected`, as a client would after a change heard over Redis. */
    async function eventually(key: CreatedApiKeyView, expected: unknown): Promise<unknown> {
      const deadline = Date.now() + 5_000;
      let seen = await rateLimitOf(key);
      while (JSON.stringify(seen) !== JSON.stringify(expected) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        seen = await rateLimitOf(key);
      }
      return seen;
    }

    it("carries the organization plan's limit, read with the key", async () => {
      expect(await rateLimitOf(await newKey())).toEqual(PRO);

      const enterprise = await apiKeys.bootstrap(`rl-${randomBytes(4).toString('hex')}`, 'enterprise');
      const starter = await apiKeys.bootstrap(`rl-${randomBytes(4).toString('hex')}`, 'starter');
      const ownerToken = (owner: typeof enterprise) =>
        tokens.authenticate({ apiKey: owner.api_key, clientId: owner.client_id, ip: IP });
      expect((await claimsOf((await ownerToken(enterprise)).access_token))['rate_limit']).toEqual({
        requests_per_minute: 1000,
        burst: 100,
      });
      expect((await claimsOf((await ownerToken(starter)).access_token))['rate_limit']).toEqual({
        requests_per_minute: 60,
        burst: 10,
      });
    });

    it('carries an override in the next token, even for a cached key, and the plan again once cleared', async () => {
      const key = await newKey();
      expect(await rateLimitOf(key)).toEqual(PRO); // cached from here on

      await apiKeys.setRateLimit(owner, key.id, { requests_per_minute: 20, burst: 5 });
      expect(await rateLimitOf(key)).toEqual({ requests_per_minute: 20, burst: 5 });

      await apiKeys.setRateLimit(owner, key.id, { requests_per_minute: 2_000, burst: 0 });
      expect(await rateLimitOf(key)).toEqual({ requests_per_minute: 2_000, burst: 0 });

      await apiKeys.clearRateLimit(owner, key.id);
      expect(await rateLimitOf(key)).toEqual(PRO);
    });

    it('keeps the cached limit for a change made behind its back, until a rate_limit_changed arrives over Redis', async () => {
      const key = await newKey();
      expect(await rateLimitOf(key)).toEqual(PRO);
      // As another admin-api node would have committed it: the row changes, this node hears nothing yet.
      await dataSource.query(
        `UPDATE api_keys SET rate_limit_per_minute = 33, rate_limit_burst = 3 WHERE id = $1`,
        [key.id],
      );
      expect(await rateLimitOf(key)).toEqual(PRO);

      const otherNode = new RedisKeyEventBus({ redis: TEST_REDIS_URL, channel });
      try {
        const publisher = otherNode['publisher'];
        if (publisher.status !== 'ready') await once(publisher, 'ready');
        await expect(
          otherNode.publish({
            type: 'rate_limit_changed',
            apiKeyId: key.id,
            organizationId: owner.organizationId,
            requestsPerMinute: 33,
            burst: 3,
            source: 'override',
            changedAt: NOW.toISOString(),
          }),
        ).resolves.toBe(true);

        expect(await eventually(key, { requests_per_minute: 33, burst: 3 })).toEqual({
          requests_per_minute: 33,
          burst: 3,
        });
      } finally {
        await otherNode.close();
      }
      // The key was not revoked by any of it.
      await expect(authenticate(key)).resolves.toMatchObject({ api_key_id: key.id });
    });

    it('carries the override in tokens from both secrets of a rotating key', async () => {
      const old = await newKey();
      await apiKeys.setRateLimit(owner, old.id, { requests_per_minute: 77, burst: 7 });
      const rotated = await apiKeys.rotate(owner, old.id, { grace_period_seconds: 3_600 });

      expect(await rateLimitOf(old)).toEqual({ requests_per_minute: 77, burst: 7 });
      expect(await rateLimitOf(rotated)).toEqual({ requests_per_minute: 77, burst: 7 });
    });
  });

  describe('usage log', () => {
    let usageLog: UsageLog;

    beforeAll(() => {
      usageLog = app.get(UsageLog);
    });

    interface UsageRow {
      api_key_id: string;
      organization_id: string;
      occurred_at: Date;
      outcome: string;
      ip: string | null;
      user_agent: string | null;
      request_id: string | null;
    }

    async function usageRows(apiKeyId: string): Promise<UsageRow[]> {
      return dataSource.query<UsageRow[]>(
        `SELECT api_key_id, organization_id, occurred_at, outcome, ip, user_agent, request_id
           FROM api_key_usage WHERE api_key_id = $1 ORDER BY id`,
        [apiKeyId],
      );
    }

    it('stores every attempt with a known key, successful or refused, with its outcome', async () => {
      const key = await newKey(new Date(NOW.getTime() + 60_000));
      const attempt = (clientId: string, requestId: string) =>
        tokens.authenticate({
          apiKey: key.api_key,
          clientId,
          ip: IP,
          userAgent: 'scanner/2.0',
          requestId,
        });
      await attempt(key.client_id, 'req-ok');
      fixedClock.advance(1_000);
      await expectError(attempt('someone-else', 'req-mismatch'), 'client_id_mismatch');
      fixedClock.advance(60_000);
      await expectError(attempt(key.client_id, 'req-expired'), 'key_expired');
      // Attempts without a known key have no row to belong to.
      await expectError(
        tokens.authenticate({ apiKey: 'gth_live_garbage', clientId: key.client_id, ip: IP }),
        'invalid_api_key',
      );

      await usageLog.flush();

      expect(usageLog.pendingCount).toBe(0);
      const base = {
        api_key_id: key.id,
        organization_id: owner.organizationId,
        ip: IP,
        user_agent: 'scanner/2.0',
      };
      expect(await usageRows(key.id)).toEqual([
        { ...base, occurred_at: NOW, outcome: 'success', request_id: 'req-ok' },
        {
          ...base,
          occurred_at: new Date(NOW.getTime() + 1_000),
          outcome: 'client_id_mismatch',
          request_id: 'req-mismatch',
        },
        {
          ...base,
          occurred_at: new Date(NOW.getTime() + 61_000),
          outcome: 'key_expired',
          request_id: 'req-expired',
        },
      ]);

      const usage = await apiKeys.listUsage(owner.organizationId, key.id, {});
      expect(usage.data.map((row) => row.outcome)).toEqual(['key_expired', 'client_id_mismatch', 'success']);
      const refusals = await apiKeys.listUsage(owner.organizationId, key.id, {
        outcome: 'client_id_mismatch',
      });
      expect(refusals.data).toEqual([
        {
          occurred_at: new Date(NOW.getTime() + 1_000).toISOString(),
          outcome: 'client_id_mismatch',
          ip: IP,
          user_agent: 'scanner/2.0',
          request_id: 'req-mismatch',
        },
      ]);
    });

    it('stores both secrets of a rotation under the one key, and the refusal of a retired one', async () => {
      const old = await newKey();
      const rotated = await apiKeys.rotate(owner, old.id, { grace_period_seconds: 60 });
      await authenticate(old);
      await authenticate(rotated);
      fixedClock.advance(60_000);
      await expectError(authenticate(old), 'api_key_revoked');

      await usageLog.flush();

      expect((await usageRows(old.id)).map((row) => row.outcome)).toEqual([
        'success',
        'success',
        'api_key_revoked',
      ]);
    });
  });
});
