import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { Repository } from 'typeorm';
import { GatehouseError, type Clock, type ErrorCode, type Permission } from '@gatehouse/contracts';
import {
  generateApiKey,
  generateDevelopmentKeyPem,
  hashApiKey,
  loadSigningKey,
  toJwks,
  TokenSigner,
  type SigningKey,
} from '@gatehouse/crypto';
import type { ApiKeyEntity } from '@gatehouse/persistence';
import { RevocationBus, RevocationRegistry, type RevocationSource } from '@gatehouse/revocation';
import { ApiKeyCache } from './api-key-cache';
import { TokenIssuanceService, type AuthenticateRequest } from './token-issuance.service';
import type { UsageRecorder } from './usage-recorder';

const ISSUER = 'gatehouse';
const AUDIENCE = 'gatehouse-api';
const NOW = new Date('2030-01-01T12:00:00.000Z');
const NOW_SECONDS = NOW.getTime() / 1000;
const KEY_ID = '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff';
const ORG_ID = '0f5d3c4e-1a2b-4c3d-8e9f-001122334455';
const CLIENT_ID = 'ci-runner';
const IP = '203.0.113.7';
const PERMISSIONS: Permission[] = ['read:findings', 'write:findings'];

class SilentBus extends RevocationBus {
  async publish(): Promise<boolean> {
    return true;
  }
  async subscribe(): Promise<void> {
    return undefined;
  }
  async close(): Promise<void> {
    return undefined;
  }
}

const emptySource: RevocationSource = { revokedSince: async () => [] };

function row(secret: string, overrides: Partial<ApiKeyEntity> = {}): ApiKeyEntity {
  return {
    id: KEY_ID,
    organizationId: ORG_ID,
    name: 'CI',
    clientId: CLIENT_ID,
    permissions: PERMISSIONS,
    environment: 'live',
    keyHash: hashApiKey(secret),
    keyPrefix: 'gth_live_',
    keyLast4: secret.slice(-4),
    createdBy: 'admin@example.com',
    createdAt: new Date('2029-12-01T00:00:00.000Z'),
    expiresAt: null,
    revokedAt: null,
    deletedAt: null,
    lastUsedAt: null,
    lastUsedIp: null,
    ...overrides,
  };
}

describe('TokenIssuanceService', () => {
  let signingKey: SigningKey;
  let secret: string;
  let findOne: jest.Mock<Promise<ApiKeyEntity | null>, [unknown]>;
  let record: jest.Mock<void, [string, Date, string]>;
  let registry: RevocationRegistry;
  let service: TokenIssuanceService;

  beforeAll(async () => {
    signingKey = await loadSigningKey(generateDevelopmentKeyPem());
  });

  beforeEach(() => {
    secret = generateApiKey('live').secret;
    findOne = jest.fn<Promise<ApiKeyEntity | null>, [unknown]>().mockResolvedValue(row(secret));
    record = jest.fn<void, [string, Date, string]>();
    const clock: Clock = { now: () => new Date(NOW.getTime()) };
    registry = new RevocationRegistry(emptySource, new SilentBus(), clock, {
      reconcileIntervalMs: 5_000,
      retentionMs: 3_600_000,
    });
    service = new TokenIssuanceService(
      { findOne } as unknown as Repository<ApiKeyEntity>,
      new ApiKeyCache(30_000),
      new TokenSigner(signingKey, { issuer: ISSUER, audience: AUDIENCE }),
      { record } as unknown as UsageRecorder,
      registry,
      clock,
    );
  });

  function authenticate(overrides: Partial<AuthenticateRequest> = {}) {
    return service.authenticate({ apiKey: secret, clientId: CLIENT_ID, ip: IP, ...overrides });
  }

  async function expectRefusal(promise: Promise<unknown>, code: ErrorCode, status: number): Promise<void> {
    const error: unknown = await promise.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toMatchObject({ code, status });
  }

  describe('refusals', () => {
    it('refuses a request without a key with missing_api_key', async () => {
      await expectRefusal(authenticate({ apiKey: undefined }), 'missing_api_key', 401);
      await expectRefusal(authenticate({ apiKey: '' }), 'missing_api_key', 401);
      expect(findOne).not.toHaveBeenCalled();
    });

    it('refuses a malformed key with invalid_api_key without reading the database', async () => {
      await expectRefusal(authenticate({ apiKey: 'gth_live_tooshort' }), 'invalid_api_key', 401);
      await expectRefusal(authenticate({ apiKey: 'Bearer eyJhbGciOiJSUzI1NiJ9' }), 'invalid_api_key', 401);
      const flipped = secret.slice(0, 20) + (secret[20] === 'A' ? 'B' : 'A') + secret.slice(21);
      await expectRefusal(authenticate({ apiKey: flipped }), 'invalid_api_key', 401);
      expect(findOne).not.toHaveBeenCalled();
      expect(record).not.toHaveBeenCalled();
    });

    it('refuses an unknown key with api_key_not_found after looking it up by hash', async () => {
      findOne.mockResolvedValue(null);
      await expectRefusal(authenticate(), 'api_key_not_found', 404);
      expect(findOne).toHaveBeenCalledTimes(1);
      const [options] = findOne.mock.calls[0] as [{ where: { keyHash: Buffer } }];
      expect(options.where.keyHash.equals(hashApiKey(secret))).toBe(true);
    });

    it('refuses a deleted key (hash erased) with api_key_not_found', async () => {
      findOne.mockResolvedValue(row(secret, { keyHash: null, deletedAt: new Date('2029-12-31T00:00:00Z') }));
      await expectRefusal(authenticate(), 'api_key_not_found', 404);
    });

    it('refuses a row whose hash does not match the key with api_key_not_found', async () => {
      findOne.mockResolvedValue(row(generateApiKey('live').secret));
      await expectRefusal(authenticate(), 'api_key_not_found', 404);
    });

    it('refuses a revoked row with api_key_revoked and does not cache it', async () => {
      findOne.mockResolvedValue(row(secret, { revokedAt: new Date('2029-12-31T00:00:00Z') }));
      await expectRefusal(authenticate(), 'api_key_revoked', 401);
      await expectRefusal(authenticate(), 'api_key_revoked', 401);
      expect(findOne).toHaveBeenCalledTimes(2);
      expect(record).not.toHaveBeenCalled();
    });

    it('refuses a key the revocation registry knows as revoked, even when the row is not yet', async () => {
      registry.apply({
        type: 'key_revoked',
        apiKeyId: KEY_ID,
        organizationId: ORG_ID,
        revokedAt: NOW.toISOString(),
        reason: 'revoked',
      });
      await expectRefusal(authenticate(), 'api_key_revoked', 401);
    });

    it('refuses a cached key as soon as the registry learns of its revocation', async () => {
      await authenticate();
      registry.apply({
        type: 'key_revoked',
        apiKeyId: KEY_ID,
        organizationId: ORG_ID,
        revokedAt: NOW.toISOString(),
        reason: 'deleted',
      });
      await expectRefusal(authenticate(), 'api_key_revoked', 401);
      expect(findOne).toHaveBeenCalledTimes(1);
    });

    it('refuses an expired key with key_expired', async () => {
      findOne.mockResolvedValue(row(secret, { expiresAt: new Date(NOW.getTime() - 1) }));
      await expectRefusal(authenticate(), 'key_expired', 401);
    });

    it('treats a key expiring exactly now as expired', async () => {
      findOne.mockResolvedValue(row(secret, { expiresAt: new Date(NOW.getTime()) }));
      await expectRefusal(authenticate(), 'key_expired', 401);
    });

    it('refuses a client_id other than the registered one with client_id_mismatch', async () => {
      await expectRefusal(authenticate({ clientId: 'someone-else' }), 'client_id_mismatch', 401);
      expect(record).not.toHaveBeenCalled();
    });
  });

  describe('success', () => {
    it('returns exactly the token response fields', async () => {
      const response = await authenticate();
      expect(Object.keys(response).sort()).toEqual(
        ['access_token', 'api_key_id', 'client_id', 'expires_in', 'token_type'].sort(),
      );
      expect(response).toEqual({
        access_token: expect.any(String),
        token_type: 'bearer',
        expires_in: 1800,
        client_id: CLIENT_ID,
        api_key_id: KEY_ID,
      });
    });

    it('issues an RS256 token carrying the key, client, organization and permissions', async () => {
      const { access_token: token } = await authenticate();

      expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', kid: signingKey.kid });
      const { payload } = await jwtVerify(token, createLocalJWKSet(toJwks([signingKey])), {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['RS256'],
        currentDate: NOW,
      });
      expect(payload).toMatchObject({
        sub: CLIENT_ID,
        org: ORG_ID,
        api_key_id: KEY_ID,
        client_id: CLIENT_ID,
        permissions: PERMISSIONS,
        iat: NOW_SECONDS,
        nbf: NOW_SECONDS,
        exp: NOW_SECONDS + 1800,
      });
      expect(payload.jti).toEqual(expect.any(String));
    });

    it('caps the token expiry at the key expiry when the key expires sooner', async () => {
      findOne.mockResolvedValue(row(secret, { expiresAt: new Date(NOW.getTime() + 600_000) }));

      const response = await authenticate();

      expect(response.expires_in).toBe(600);
      const { payload } = await jwtVerify(response.access_token, createLocalJWKSet(toJwks([signingKey])), {
        currentDate: NOW,
      });
      expect(payload.exp).toBe(NOW_SECONDS + 600);
    });

    it('keeps the full lifetime when the key expires later than the token', async () => {
      findOne.mockResolvedValue(row(secret, { expiresAt: new Date(NOW.getTime() + 86_400_000) }));
      expect((await authenticate()).expires_in).toBe(1800);
    });

    it('serves the second call from the cache', async () => {
      const first = await authenticate();
      const second = await authenticate();

      expect(findOne).toHaveBeenCalledTimes(1);
      expect(second.api_key_id).toBe(first.api_key_id);
      expect(second.access_token).not.toBe(first.access_token);
    });

    it('still checks the client_id of a cached key', async () => {
      await authenticate();
      await expectRefusal(authenticate({ clientId: 'other-client' }), 'client_id_mismatch', 401);
    });

    it('records the use with the time and caller ip', async () => {
      await authenticate();
      expect(record).toHaveBeenCalledTimes(1);
      expect(record).toHaveBeenCalledWith(KEY_ID, NOW, IP);
    });
  });
});
