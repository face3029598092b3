import type { Repository } from 'typeorm';
import type { Clock } from '@gatehouse/contracts';
import {
  generateApiKey,
  generateDevelopmentKeyPem,
  hashApiKey,
  loadSigningKey,
  TokenSigner,
} from '@gatehouse/crypto';
import { BIND_METRICS, GatehouseMetrics } from '@gatehouse/http';
import type { ApiKeyEntity } from '@gatehouse/persistence';
import { KeyEventBus, RevocationRegistry } from '@gatehouse/revocation';
import { ApiKeyCache } from './api-key-cache';
import { TokenIssuanceService } from './token-issuance.service';
import type { UsageLog } from './usage-log';
import type { UsageRecorder } from './usage-recorder';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const CLIENT_ID = 'ci-runner';

class SilentBus extends KeyEventBus {
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

function row(secret: string): ApiKeyEntity {
  return {
    id: '7b0c9d1e-2f3a-4b5c-9d6e-aabbccddeeff',
    organizationId: '0f5d3c4e-1a2b-4c3d-8e9f-001122334455',
    clientId: CLIENT_ID,
    permissions: ['read:findings'],
    keyHash: hashApiKey(secret),
    keyVersion: 1,
    previousKeyHash: null,
    previousRetiresAt: null,
    expiresAt: null,
    revokedAt: null,
    rateLimitPerMinute: null,
    rateLimitBurst: null,
    disabledAt: null,
    allowedIps: [],
  } as unknown as ApiKeyEntity;
}

/** A service over fakes: one stored key (the `secret`), no database, no Redis. */
async function build(secret: string): Promise<TokenIssuanceService> {
  const stored = row(secret);
  const repository = {
    createQueryBuilder: () => {
      const builder = {
        innerJoin: () => builder,
        addSelect: () => builder,
        where: () => builder,
        getRawAndEntities: async () => ({
          entities: [stored],
          raw: [{ k_id: stored.id, organization_plan: 'pro' }],
        }),
      };
      return builder;
    },
  } as unknown as Repository<ApiKeyEntity>;
  const clock: Clock = { now: () => NOW };
  return new TokenIssuanceService(
    repository,
    new ApiKeyCache(30_000),
    new TokenSigner(await loadSigningKey(generateDevelopmentKeyPem()), { issuer: 'it', audience: 'it-api' }),
    { record: () => undefined } as unknown as UsageRecorder,
    { append: () => undefined } as unknown as UsageLog,
    new RevocationRegistry(
      { revokedSince: async () => [], retiredSince: async () => [], disabledKeys: async () => [] },
      new SilentBus(),
      clock,
      {
        reconcileIntervalMs: 5_000,
        retentionMs: 3_600_000,
      },
    ),
    clock,
  );
}

describe('TokenIssuanceService metrics', () => {
  let service: TokenIssuanceService;
  let metrics: GatehouseMetrics;
  let secret: string;

  beforeEach(async () => {
    secret = generateApiKey('live').secret;
    service = await build(secret);
    metrics = new GatehouseMetrics('auth-service');
    service[BIND_METRICS](metrics);
  });

  const issued = async () => (await metrics.tokenIssuance.issued.get()).values[0]?.value ?? 0;
  const outcomes = async () =>
    Object.fromEntries(
      (await metrics.tokenIssuance.authentications.get()).values.map((value) => [
        value.labels.outcome,
        value.value,
      ]),
    );

  it('exposes its counters as soon as it is bound, at 0', async () => {
    expect(await issued()).toBe(0);
    expect(await outcomes()).toEqual({ success: 0 });
  });

  it('counts each issued token and each successful authentication', async () => {
    await service.authenticate({ apiKey: secret, clientId: CLIENT_ID, ip: '10.0.0.1' });
    await service.authenticate({ apiKey: secret, clientId: CLIENT_ID, ip: '10.0.0.1' });
    expect(await issued()).toBe(2);
    expect(await outcomes()).toEqual({ success: 2 });
  });

  it('counts refusals by error code, and issues nothing for them', async () => {
    const refuse = (apiKey: string | undefined, clientId = CLIENT_ID) =>
      service.authenticate({ apiKey, clientId, ip: '10.0.0.1' }).catch(() => undefined);
    await refuse(undefined);
    await refuse('gth_live_tooshort');
    await refuse('gth_live_tooshort');
    await refuse(secret, 'someone-else');
    expect(await issued()).toBe(0);
    expect(await outcomes()).toEqual({
      success: 0,
      missing_api_key: 1,
      invalid_api_key: 2,
      client_id_mismatch: 1,
    });
  });

  it('works without metrics (contexts that serve no HTTP, such as the integration tests)', async () => {
    const unbound = await build(secret);
    await expect(
      unbound.authenticate({ apiKey: secret, clientId: CLIENT_ID, ip: '10.0.0.1' }),
    ).resolves.toMatchObject({
      client_id: CLIENT_ID,
    });
  });
});
