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
  type Clock,
  type ErrorCode,
} from '@gatehouse/contracts';
import { generateDevelopmentKeyPem, loadSigningKey, toJwks } from '@gatehouse/crypto';
import { HealthModule } from '@gatehouse/http';
import { PersistenceModule, runMigrations } from '@gatehouse/persistence';
import { RedisRevocationBus, RevocationModule } from '@gatehouse/revocation';
import { createTestDatabase, TEST_REDIS_URL, uniqueChannel, type TestDatabase } from '@gatehouse/testing';
import { PublishedKeys } from './signing-key.provider';
import { TokenIssuanceModule } from './token-issuance.module';
import { TokenIssuanceService } from './token-issuance.service';
import { UsageRecorder } from './usage-recorder';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const ISSUER = 'it';
const AUDIENCE = 'it-api';
const IP = '203.0.113.7';

const fixedClock: Clock = { now: () => new Date(NOW.getTime()) };

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
          redisUrl: TEST_REDIS_URL,
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
    owner = { organizationId: bootstrap.organization.id, permissions: PERMISSIONS, subject: 'test' };
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

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
    const otherNode = new RedisRevocationBus({ url: TEST_REDIS_URL, channel });
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
});
