import { randomBytes } from 'node:crypto';
import { Test, type TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import {
  ApiKeysModule,
  ApiKeysService,
  AuditService,
  LeakedKeysService,
  type Actor,
} from '@gatehouse/api-keys';
import { GatehouseError, PERMISSIONS, systemClock } from '@gatehouse/contracts';
import { HealthModule } from '@gatehouse/http';
import { PersistenceModule, runMigrations } from '@gatehouse/persistence';
import { RevocationModule } from '@gatehouse/revocation';
import {
  createTestDatabase,
  startWebhookReceiver,
  TEST_REDIS_URL,
  uniqueChannel,
  type TestDatabase,
  type WebhookReceiver,
} from '@gatehouse/testing';
import {
  verifyWebhook,
  WebhookDeliveryWorker,
  WebhookOutbox,
  WebhooksModule,
  WebhooksService,
  type WebhooksOptions,
} from '@gatehouse/webhooks';

const OPTIONS: WebhooksOptions = {
  encryptionKey: randomBytes(32),
  urlPolicy: { allowPrivate: true, requireHttps: false },
  // The tests drive the workers themselves (drain), so that each step is observed.
  delivery: {
    enabled: false,
    pollIntervalMs: 1000,
    timeoutMs: 500,
    retryBaseMs: 10,
    maxAttempts: 3,
    expiryCheckIntervalMs: 3_600_000,
    retentionDays: 30,
  },
};

/**
 * Here rather than in libs/webhooks: the outbox is written by api-keys' audit trail, and the app is what joins
 * the two libraries.
 */
describe('webhooks: outbox and delivery (PostgreSQL)', () => {
  let database: TestDatabase;
  let app: TestingModule;
  let dataSource: DataSource;
  let keys: ApiKeysService;
  let audit: AuditService;
  let webhooks: WebhooksService;
  let worker: WebhookDeliveryWorker;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: (url) => runMigrations({ url }) });
    app = await Test.createTestingModule({
      imports: [
        HealthModule.forRoot(),
        PersistenceModule.forRoot({ url: database.url, poolSize: 6 }),
        RevocationModule.forRoot({
          transport: 'redis',
          redis: TEST_REDIS_URL,
          channel: uniqueChannel(),
          reconcileIntervalMs: 60_000,
          clockToleranceSeconds: 5,
        }),
        ApiKeysModule.forRoot({ maxLifetimeDays: 90 }),
        WebhooksModule.forRoot(OPTIONS),
      ],
    }).compile();
    app.useLogger(false);
    await app.init();
    dataSource = app.get(DataSource);
    keys = app.get(ApiKeysService);
    audit = app.get(AuditService);
    webhooks = app.get(WebhooksService);
    worker = app.get(WebhookDeliveryWorker);
    receiver = await startWebhookReceiver();
  });

  afterAll(async () => {
    await receiver?.stop();
    await app?.close();
    await database?.drop();
  });

  beforeEach(() => {
    receiver.received.length = 0;
    receiver.respond(() => 200);
  });

  async function newOrganization(): Promise<string> {
    const [row] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO organizations (name, plan) VALUES ($1, 'pro') RETURNING id`,
      [`org-${randomBytes(5).toString('hex')}`],
    );
    return row.id;
  }

  function actor(organizationId: string): Actor {
    return {
      organizationId,
      permissions: PERMISSIONS,
      type: 'user',
      subject: 'user:alice',
      ip: '198.51.100.10',
      requestId: `req-${randomBytes(4).toString('hex')}`,
    };
  }

  async function eventsOf(organizationId: string): Promise<{ id: string; type: string }[]> {
    return dataSource.query(
      `SELECT id, type FROM webhook_events WHERE organization_id = $1 ORDER BY created_at`,
      [organizationId],
    );
  }

  it('writes a subscribed key event, and only a subscribed one, in the key change', async () => {
    const organizationId = await newOrganization();
    const endpoint = await webhooks.create(actor(organizationId), {
      url: receiver.url,
      event_types: ['api_key.created', 'api_key.revoked'],
    });
    expect(endpoint.secret).toMatch(/^whsec_/);
    const key = await keys.create(actor(organizationId), {
      name: 'ci',
      client_id: 'ci-webhooks',
      permissions: ['read:keys'],
    });
    await keys.disable(actor(organizationId), key.id);
    await keys.revoke(actor(organizationId), key.id);

    // Disabled is not subscribed: no event.
    expect((await eventsOf(organizationId)).map((event) => event.type)).toEqual([
      'api_key.created',
      'api_key.revoked',
    ]);
    const [payload] = await dataSource.query<{ payload: { data: { api_key: { id: string } } } }[]>(
      `SELECT payload FROM webhook_events WHERE organization_id = $1 AND type = 'api_key.revoked'`,
      [organizationId],
    );
    expect(payload.payload.data.api_key).toMatchObject({ id: key.id, client_id: 'ci-webhooks' });
  });

  it('writes api_key.leaked and api_key.revoked when a leak report revokes a key', async () => {
    const organizationId = await newOrganization();
    await webhooks.create(actor(organizationId), {
      url: receiver.url,
      event_types: ['api_key.leaked', 'api_key.revoked'],
    });
    const key = await keys.create(actor(organizationId), {
      name: 'leaky',
      client_id: 'ci-leaked',
      permissions: ['read:keys'],
    });
    const [feedback] = await app.get(LeakedKeysService).report(
      [
        {
          token: key.api_key,
          type: 'gatehouse_api_key',
          url: 'https://example.com/leak',
          source: 'content',
        },
      ],
      {
        ip: null,
        requestId: null,
      },
    );
    expect(feedback.label).toBe('true_positive');
    const events = await dataSource.query<{ type: string; payload: { data: { actor: string } } }[]>(
      `SELECT type, payload FROM webhook_events WHERE organization_id = $1 AND type <> 'api_key.created'
        ORDER BY type`,
      [organizationId],
    );
    expect(events.map((event) => [event.type, event.payload.data.actor])).toEqual([
      ['api_key.leaked', 'system:leaked-key-report'],
      ['api_key.revoked', 'system:leaked-key-report'],
    ]);
  });

  it('rolls the event back with the change it reports', async () => {
    const organizationId = await newOrganization();
    await webhooks.create(actor(organizationId), { url: receiver.url, event_types: ['api_key.revoked'] });
    const key = await keys.create(actor(organizationId), {
      name: 'ci',
      client_id: 'ci-rollback',
      permissions: ['read:keys'],
    });
    const failure = new Error('the change fails after its audit row and event were written');
    await expect(
      dataSource.transaction(async (manager) => {
        await audit.record(manager, actor(organizationId), 'api_key.revoked', {
          type: 'api_key',
          id: key.id,
        });
        expect(
          await manager.query(`SELECT 1 FROM webhook_events WHERE organization_id = $1`, [organizationId]),
        ).toHaveLength(1);
        throw failure;
      }),
    ).rejects.toBe(failure);

    expect(await eventsOf(organizationId)).toEqual([]);
    expect(
      await dataSource.query(
        `SELECT 1 FROM audit_events WHERE action = 'api_key.revoked' AND target_id = $1`,
        [key.id],
      ),
    ).toEqual([]);
  });

  it('delivers each event once with two workers claiming at the same time (SKIP LOCKED)', async () => {
    const organizationId = await newOrganization();
    const endpoint = await webhooks.create(actor(organizationId), {
      url: receiver.url,
      event_types: ['api_key.created'],
    });
    // Deliveries left by earlier tests go first, so that only this test's reach the receiver below.
    await worker.drain();
    receiver.received.length = 0;
    const outbox = app.get(WebhookOutbox);
    const eventIds: string[] = [];
    await dataSource.transaction(async (manager) => {
      for (let i = 0; i < 25; i++) {
        const { eventId } = await outbox.emit(manager, organizationId, 'api_key.created', { n: i }, [
          endpoint.id,
        ]);
        eventIds.push(eventId);
      }
    });
    const other = new WebhookDeliveryWorker(dataSource, outbox, OPTIONS, systemClock);
    await Promise.all([worker.drain(), other.drain(), worker.drain(), other.drain()]);

    const ids = receiver.received.map((webhook) => webhook.headers['webhook-id']);
    expect([...ids].sort()).toEqual([...eventIds].sort());
    for (const webhook of receiver.received) {
      const {
        'webhook-id': id,
        'webhook-timestamp': timestamp,
        'webhook-signature': signature,
      } = webhook.headers;
      expect(
        verifyWebhook(endpoint.secret, String(id), Number(timestamp), webhook.body, String(signature)),
      ).toBe(true);
    }
    const statuses = await dataSource.query<{ status: string; attempts: number; logged: number }[]>(
      `SELECT d.status, d.attempts, (SELECT count(*) FROM webhook_delivery_attempts a WHERE a.delivery_id = d.id)::int AS logged
         FROM webhook_deliveries d WHERE d.endpoint_id = $1`,
      [endpoint.id],
    );
    expect(statuses).toHaveLength(25);
    expect(
      statuses.every((row) => row.status === 'delivered' && row.attempts === 1 && row.logged === 1),
    ).toBe(true);
  });

  it('retries a failed attempt after its backoff, logs every attempt, and fails after the last one', async () => {
    const organizationId = await newOrganization();
    const endpoint = await webhooks.create(actor(organizationId), {
      url: receiver.url,
      event_types: ['api_key.created'],
    });
    receiver.respond(() => 500);
    await webhooks.test(actor(organizationId), endpoint.id);

    await worker.drain();
    let [delivery] = (await webhooks.deliveries(organizationId, endpoint.id, {})).data;
    expect(delivery).toMatchObject({
      event_type: 'webhook.ping',
      status: 'pending',
      attempts: 1,
      last_status_code: 500,
    });
    expect(new Date(delivery.next_attempt_at ?? 0).getTime()).toBeGreaterThan(Date.now() - 1000);

    for (let attempt = 2; attempt <= OPTIONS.delivery.maxAttempts; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await worker.drain();
    }
    [delivery] = (await webhooks.deliveries(organizationId, endpoint.id, {})).data;
    expect(delivery).toMatchObject({ status: 'failed', attempts: 3, next_attempt_at: null });
    expect(delivery.attempt_log.map((attempt) => [attempt.attempt, attempt.status_code])).toEqual([
      [1, 500],
      [2, 500],
      [3, 500],
    ]);
    expect(receiver.received).toHaveLength(3);
    // The same webhook-id on every attempt: receivers deduplicate on it.
    expect(new Set(receiver.received.map((webhook) => webhook.headers['webhook-id'])).size).toBe(1);
  });

  it('leaves a claimed delivery alone until its lease runs out, then takes it up again (a worker that died)', async () => {
    const organizationId = await newOrganization();
    const endpoint = await webhooks.create(actor(organizationId), {
      url: receiver.url,
      event_types: ['api_key.created'],
    });
    await webhooks.test(actor(organizationId), endpoint.id);
    const claimed = await worker.claim();
    expect(claimed).toHaveLength(1);
    // The claimer "dies" here: no request, no outcome recorded.
    expect(await worker.claim()).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, OPTIONS.delivery.timeoutMs + 1100));
    await worker.drain();
    const [delivery] = (await webhooks.deliveries(organizationId, endpoint.id, {})).data;
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(receiver.received).toHaveLength(1);
  });

  it('sends api_key.expiring once per key and expiry, within the endpoint window', async () => {
    const organizationId = await newOrganization();
    const endpoint = await webhooks.create(actor(organizationId), {
      url: receiver.url,
      event_types: ['api_key.expiring'],
      expiring_within_days: 7,
    });
    const soon = await keys.create(actor(organizationId), {
      name: 'soon',
      client_id: 'expiring-soon',
      permissions: ['read:keys'],
      expires_at: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    });
    await keys.create(actor(organizationId), {
      name: 'later',
      client_id: 'expiring-later',
      permissions: ['read:keys'],
      expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    });

    await worker.emitExpiring();
    await worker.emitExpiring();
    const events = await dataSource.query<{ payload: { data: { api_key: { id: string } } } }[]>(
      `SELECT e.payload FROM webhook_events e JOIN webhook_deliveries d ON d.event_id = e.id
        WHERE d.endpoint_id = $1 AND e.type = 'api_key.expiring'`,
      [endpoint.id],
    );
    expect(events.map((event) => event.payload.data.api_key.id)).toEqual([soon.id]);
  });

  it('drops the outcome of an attempt whose endpoint was deleted during the request', async () => {
    const organizationId = await newOrganization();
    const endpoint = await webhooks.create(actor(organizationId), {
      url: receiver.url,
      event_types: ['api_key.created'],
    });
    receiver.respond(() => 'hang');
    const { delivery_id } = await webhooks.test(actor(organizationId), endpoint.id);
    const claimed = (await worker.claim()).find((delivery) => delivery.id === delivery_id);
    expect(claimed).toBeDefined();
    const delivering = worker.deliver(claimed as NonNullable<typeof claimed>);
    await receiver.waitFor(1);
    await webhooks.delete(actor(organizationId), endpoint.id);
    await expect(delivering).resolves.toBeUndefined();
    expect(await dataSource.query(`SELECT 1 FROM webhook_deliveries WHERE id = $1`, [delivery_id])).toEqual(
      [],
    );
  });

  it("answers 404 for another organization's endpoint and refuses internal URLs without the test allowance", async () => {
    const mine = await newOrganization();
    const theirs = await newOrganization();
    const endpoint = await webhooks.create(actor(theirs), {
      url: receiver.url,
      event_types: ['api_key.created'],
    });
    await expect(webhooks.get(mine, endpoint.id)).rejects.toMatchObject({ code: 'not_found' });
    await expect(webhooks.rotateSecret(actor(mine), endpoint.id)).rejects.toBeInstanceOf(GatehouseError);
    await expect(webhooks.get(mine, 'not-a-uuid')).rejects.toMatchObject({ code: 'not_found' });

    const strict = new WebhooksService(
      dataSource,
      app.get(WebhookOutbox),
      { ...OPTIONS, urlPolicy: { allowPrivate: false, requireHttps: false } },
      systemClock,
    );
    await expect(
      strict.create(actor(mine), { url: 'http://169.254.169.254/latest', event_types: ['api_key.created'] }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
  });
});
