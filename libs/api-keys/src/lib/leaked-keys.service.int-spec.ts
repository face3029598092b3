import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { PERMISSIONS, type KeyEvent } from '@gatehouse/contracts';
import { generateApiKey } from '@gatehouse/crypto';
import { RedisKeyEventBus, RevocationRegistry } from '@gatehouse/revocation';
import { ManualClock, TEST_REDIS_URL, uniqueChannel } from '@gatehouse/testing';
import type { Actor } from './actor';
import type { CreatedApiKeyView } from './api-key.view';
import { startApiKeysTestModule, type ApiKeysTestModule } from './api-keys.int-support';
import { ApiKeysService } from './api-keys.service';
import type { LeakedKeyReportDto } from './dto/report-leaked-keys.dto';
import {
  LEAKED_KEY_REPORT_ACTOR,
  LeakedKeysService,
  type LeakedKeyReportContext,
} from './leaked-keys.service';

const START = new Date('2030-01-01T12:00:00.000Z');
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const CONTEXT: LeakedKeyReportContext = { ip: '192.0.2.10', requestId: 'req-leak-1' };

interface AuditRow {
  organization_id: string;
  actor_type: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown> | null;
}

function leak(token: string, overrides: Partial<LeakedKeyReportDto> = {}): LeakedKeyReportDto {
  return {
    token,
    type: 'gatehouse_api_key',
    url: 'https://github.com/octo-org/octo-repo/blob/2b1c3f0/.env',
    source: 'content',
    ...overrides,
  };
}

describe('LeakedKeysService (PostgreSQL, Redis)', () => {
  const clock = new ManualClock(START);
  const channel = uniqueChannel();
  let testModule: ApiKeysTestModule;
  let keys: ApiKeysService;
  let service: LeakedKeysService;
  let dataSource: DataSource;
  let registry: RevocationRegistry;

  beforeAll(async () => {
    testModule = await startApiKeysTestModule({ clock, channel });
    const { app } = testModule;
    keys = app.get(ApiKeysService);
    service = app.get(LeakedKeysService);
    dataSource = app.get(DataSource);
    registry = app.get(RevocationRegistry);
  });

  afterAll(async () => {
    await testModule?.close();
  });

  beforeEach(() => clock.set(START));

  async function newOrganization(): Promise<Actor> {
    const [row] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO organizations (name, plan) VALUES ($1, 'pro') RETURNING id`,
      [`org-${randomBytes(5).toString('hex')}`],
    );
    return {
      organizationId: row.id,
      permissions: PERMISSIONS,
      type: 'user',
      subject: 'user:owner',
      ip: null,
      requestId: null,
    };
  }

  async function newKey(owner: Actor, expiresAt?: Date): Promise<CreatedApiKeyView> {
    return keys.create(owner, {
      name: 'CI key',
      client_id: `ci-${randomBytes(4).toString('hex')}`,
      permissions: ['read:findings', 'write:findings'],
      expires_at: expiresAt?.toISOString(),
    });
  }

  async function revokedAt(id: string): Promise<Date | null> {
    const [row] = await dataSource.query<{ revoked_at: Date | null }[]>(
      `SELECT revoked_at FROM api_keys WHERE id = $1`,
      [id],
    );
    return row.revoked_at;
  }

  async function auditOf(targetId: string, action?: string): Promise<AuditRow[]> {
    return dataSource.query<AuditRow[]>(
      `SELECT organization_id, actor_type, actor, action, target_type, target_id, ip, request_id, details
       FROM audit_events WHERE target_id = $1 AND ($2::text IS NULL OR action = $2) ORDER BY occurred_at, action`,
      [targetId, action ?? null],
    );
  }

  it('revokes a live key at once, in its own organization, with the audit trail and the broadcast', async () => {
    const owner = await newOrganization();
    const bystander = await newOrganization();
    const key = await newKey(owner);
    const untouched = await newKey(bystander);
    const listener = new RedisKeyEventBus({ redis: TEST_REDIS_URL, channel });
    const heard: KeyEvent[] = [];
    try {
      await listener.subscribe(
        (event) => heard.push(event),
        () => undefined,
      );

      const feedback = await service.report([leak(key.api_key)], CONTEXT);

      expect(feedback).toEqual([
        { token_raw: key.api_key, token_type: 'gatehouse_api_key', label: 'true_positive' },
      ]);
      expect(await revokedAt(key.id)).toEqual(START);
      expect(registry.isRevoked(key.id)).toBe(true);
      const deadline = Date.now() + 5_000;
      while (heard.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(heard).toEqual([
        {
          type: 'key_revoked',
          apiKeyId: key.id,
          organizationId: owner.organizationId,
          revokedAt: START.toISOString(),
          reason: 'revoked',
        },
      ]);
    } finally {
      await listener.close();
    }

    const trail = await auditOf(key.id);
    const bySystem = {
      organization_id: owner.organizationId,
      actor_type: 'system',
      actor: LEAKED_KEY_REPORT_ACTOR,
      target_type: 'api_key',
      target_id: key.id,
      ip: CONTEXT.ip,
      request_id: CONTEXT.requestId,
    };
    expect(trail.filter((event) => event.action !== 'api_key.created')).toEqual([
      {
        ...bySystem,
        action: 'api_key.leaked',
        details: {
          url: 'https://github.com/octo-org/octo-repo/blob/2b1c3f0/.env',
          source: 'content',
          type: 'gatehouse_api_key',
          secret: 'current',
        },
      },
      { ...bySystem, action: 'api_key.revoked', details: { reason: 'leaked' } },
    ]);
    // The audit trail says where the key leaked, never the secret.
    expect(JSON.stringify(trail)).not.toContain(key.api_key);
    expect(await revokedAt(untouched.id)).toBeNull();
    expect(await auditOf(untouched.id, 'api_key.leaked')).toEqual([]);
  });

  it('answers false_positive, and changes nothing, for everything that is no working key', async () => {
    const owner = await newOrganization();
    const revoked = await newKey(owner);
    await keys.revoke(owner, revoked.id);
    const deleted = await newKey(owner);
    await keys.delete(owner, deleted.id);
    const expired = await newKey(owner, new Date(START.getTime() + DAY_MS));
    const notStored = generateApiKey('live').secret;
    const live = await newKey(owner);
    const badChecksum = `${live.api_key.slice(0, -1)}${live.api_key.endsWith('0') ? '1' : '0'}`;
    clock.advance(2 * DAY_MS);

    const tokens = [
      revoked.api_key,
      deleted.api_key,
      expired.api_key,
      notStored,
      badChecksum,
      'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
      'not a key at all',
    ];
    const feedback = await service.report(
      tokens.map((token) => leak(token, { type: 'some_type' })),
      CONTEXT,
    );

    expect(feedback).toEqual(
      tokens.map((token) => ({ token_raw: token, token_type: 'some_type', label: 'false_positive' })),
    );
    expect(await revokedAt(revoked.id)).toEqual(START);
    expect(await revokedAt(expired.id)).toBeNull();
    expect(await revokedAt(live.id)).toBeNull();
    for (const id of [revoked.id, deleted.id, expired.id, live.id]) {
      expect(await auditOf(id, 'api_key.leaked')).toEqual([]);
    }
    expect(await auditOf(revoked.id, 'api_key.revoked')).toHaveLength(1);
  });

  it('revokes a key whose previous secret leaked during the rotation grace period', async () => {
    const owner = await newOrganization();
    const key = await newKey(owner);
    const rotated = await keys.rotate(owner, key.id, { grace_period_seconds: 3600 });
    clock.advance(HOUR_MS / 2);

    const feedback = await service.report([leak(key.api_key, { type: undefined })], CONTEXT);

    expect(feedback).toEqual([{ token_raw: key.api_key, token_type: '', label: 'true_positive' }]);
    expect(await revokedAt(rotated.id)).toEqual(clock.now());
    expect((await auditOf(key.id, 'api_key.leaked'))[0].details).toEqual({
      url: 'https://github.com/octo-org/octo-repo/blob/2b1c3f0/.env',
      source: 'content',
      type: null,
      secret: 'previous',
    });
  });

  it('leaves a key alone when only its secret retired by a rotation leaked', async () => {
    const owner = await newOrganization();
    const key = await newKey(owner);
    await keys.rotate(owner, key.id, { grace_period_seconds: 60 });
    clock.advance(61_000);

    expect(await service.report([leak(key.api_key)], CONTEXT)).toEqual([
      expect.objectContaining({ label: 'false_positive' }),
    ]);
    expect(await revokedAt(key.id)).toBeNull();
  });

  it('handles a token reported twice once, and a key once when both its secrets leaked', async () => {
    const owner = await newOrganization();
    const key = await newKey(owner);
    const rotated = await keys.rotate(owner, key.id, { grace_period_seconds: 3600 });

    const feedback = await service.report(
      [
        leak(rotated.api_key, { url: 'https://a.example/1' }),
        leak(key.api_key),
        leak(rotated.api_key, { url: 'https://a.example/2' }),
      ],
      CONTEXT,
    );

    expect(feedback).toEqual([
      { token_raw: rotated.api_key, token_type: 'gatehouse_api_key', label: 'true_positive' },
      { token_raw: key.api_key, token_type: 'gatehouse_api_key', label: 'true_positive' },
    ]);
    const leaked = await auditOf(key.id, 'api_key.leaked');
    expect(leaked.map((event) => [event.details?.['secret'], event.details?.['url']])).toEqual(
      expect.arrayContaining([
        ['current', 'https://a.example/1'],
        ['previous', 'https://github.com/octo-org/octo-repo/blob/2b1c3f0/.env'],
      ]),
    );
    expect(leaked).toHaveLength(2);
    expect(await auditOf(key.id, 'api_key.revoked')).toHaveLength(1);
  });

  it('revokes a disabled key: it could be enabled again, so its leak is real', async () => {
    const owner = await newOrganization();
    const key = await newKey(owner);
    await keys.disable(owner, key.id);

    expect(await service.report([leak(key.api_key)], CONTEXT)).toEqual([
      expect.objectContaining({ label: 'true_positive' }),
    ]);
    expect(await revokedAt(key.id)).toEqual(START);
  });

  it('revokes keys of several organizations in one report', async () => {
    const first = await newOrganization();
    const second = await newOrganization();
    const one = await newKey(first);
    const other = await newKey(second);

    const feedback = await service.report([leak(one.api_key), leak(other.api_key)], CONTEXT);

    expect(feedback.map((entry) => entry.label)).toEqual(['true_positive', 'true_positive']);
    expect((await auditOf(one.id, 'api_key.leaked'))[0].organization_id).toBe(first.organizationId);
    expect((await auditOf(other.id, 'api_key.leaked'))[0].organization_id).toBe(second.organizationId);
  });

  it('gives true_positive to exactly one of two concurrent reports of the same key', async () => {
    const owner = await newOrganization();
    const key = await newKey(owner);

    const answers = await Promise.all([
      service.report([leak(key.api_key)], CONTEXT),
      service.report([leak(key.api_key)], CONTEXT),
    ]);

    expect(answers.map(([entry]) => entry.label).sort()).toEqual(['false_positive', 'true_positive']);
    expect(await auditOf(key.id, 'api_key.revoked')).toHaveLength(1);
    expect(await auditOf(key.id, 'api_key.leaked')).toHaveLength(1);
  });

  it('stores what PostgreSQL cannot (NUL, lone surrogates) in a form it can, instead of failing', async () => {
    const owner = await newOrganization();
    const key = await newKey(owner);

    const feedback = await service.report(
      [leak(key.api_key, { url: 'https://x.example/\u0000a\uD800b', source: 'con\u0000tent' })],
      CONTEXT,
    );

    expect(feedback[0].label).toBe('true_positive');
    expect((await auditOf(key.id, 'api_key.leaked'))[0].details).toMatchObject({
      url: 'https://x.example/a\uFFFDb',
      source: 'content',
    });
  });
});
