import { randomBytes, randomUUID } from 'node:crypto';
import { Test, type TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { CLOCK } from '@gatehouse/contracts';
import { HealthModule } from '@gatehouse/http';
import { PersistenceModule, runMigrations } from '@gatehouse/persistence';
import { createTestDatabase, ManualClock, type TestDatabase } from '@gatehouse/testing';
import { RETENTION_BATCH_SIZE, WebhookDeliveryWorker } from './webhook-delivery.worker';
import { WebhooksModule } from './webhooks.module';

const DAY_MS = 86_400_000;
const NOW = new Date('2031-03-01T00:00:00.000Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY_MS);

type Status = 'pending' | 'delivered' | 'failed';

describe('webhook delivery retention (PostgreSQL)', () => {
  const clock = new ManualClock(NOW);
  let database: TestDatabase;
  let app: TestingModule;
  let dataSource: DataSource;
  let worker: WebhookDeliveryWorker;
  let organizationId: string;
  let endpointId: string;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: (url) => runMigrations({ url }) });
    app = await Test.createTestingModule({
      imports: [
        HealthModule.forRoot(),
        PersistenceModule.forRoot({ url: database.url, poolSize: 4 }),
        WebhooksModule.forRoot({
          encryptionKey: randomBytes(32),
          urlPolicy: { allowPrivate: true, requireHttps: false },
          // The test runs the retention pass itself; nothing is delivered.
          delivery: {
            enabled: false,
            pollIntervalMs: 1000,
            timeoutMs: 500,
            retryBaseMs: 10,
            maxAttempts: 3,
            expiryCheckIntervalMs: 3_600_000,
            retentionDays: 30,
          },
        }),
      ],
    })
      .overrideProvider(CLOCK)
      .useValue(clock)
      .compile();
    app.useLogger(false);
    await app.init();
    dataSource = app.get(DataSource);
    worker = app.get(WebhookDeliveryWorker);
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  beforeEach(async () => {
    clock.set(NOW);
    // Each test counts what one pass deletes: none of an earlier test's rows may be left to age out.
    await dataSource.query(`DELETE FROM webhook_deliveries`);
    await dataSource.query(`DELETE FROM webhook_events`);
    [{ id: organizationId }] = await dataSource.query<{ id: string }[]>(
      `INSERT INTO organizations (name, plan) VALUES ($1, 'pro') RETURNING id`,
      [`org-${randomBytes(5).toString('hex')}`],
    );
    endpointId = randomUUID();
    await dataSource.query(
      `INSERT INTO webhook_endpoints (id, organization_id, url, event_types, secret_sealed, created_at, created_by,
         updated_at)
       VALUES ($1, $2, 'https://hooks.example.com/', '{api_key.created}', '\\x00', $3, 'user:test', $3)`,
      [endpointId, organizationId, daysAgo(400)],
    );
  });

  /** An event with one delivery in `status`, created and (unless pending) completed `days` ago, with one attempt. */
  async function delivery(status: Status, days: number): Promise<{ eventId: string; deliveryId: string }> {
    const eventId = randomUUID();
    const deliveryId = randomUUID();
    const at = daysAgo(days);
    await dataSource.query(
      `INSERT INTO webhook_events (id, organization_id, type, payload, created_at)
       VALUES ($1, $2, 'api_key.created', '{}', $3)`,
      [eventId, organizationId, at],
    );
    await dataSource.query(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at,
         updated_at, completed_at)
       VALUES ($1, $2, $3, $4, 1, $5, $5, $5, $6)`,
      [deliveryId, endpointId, eventId, status, at, status === 'pending' ? null : at],
    );
    await dataSource.query(
      `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, attempted_at, status_code, duration_ms)
       VALUES ($1, 1, $2, 200, 5)`,
      [deliveryId, at],
    );
    return { eventId, deliveryId };
  }

  async function remaining(): Promise<{ deliveries: string[]; events: string[]; attempts: string[] }> {
    const ids = async (sql: string) =>
      (await dataSource.query<{ id: string }[]>(sql, [endpointId])).map((row) => row.id).sort();
    return {
      deliveries: await ids(`SELECT id FROM webhook_deliveries WHERE endpoint_id = $1`),
      events: await ids(
        `SELECT e.id FROM webhook_events e JOIN webhook_endpoints w ON w.organization_id = e.organization_id
          WHERE w.id = $1`,
      ),
      attempts: await ids(
        `SELECT a.delivery_id AS id FROM webhook_delivery_attempts a
           JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = $1`,
      ),
    };
  }

  it('deletes delivered and failed deliveries older than the retention, with their attempts and events', async () => {
    const oldDelivered = await delivery('delivered', 31);
    const oldFailed = await delivery('failed', 45);
    const recentDelivered = await delivery('delivered', 29);
    const recentFailed = await delivery('failed', 1);

    expect(await worker.pruneDeliveries()).toBe(2);

    const kept = [recentDelivered, recentFailed];
    expect(await remaining()).toEqual({
      deliveries: kept.map((entry) => entry.deliveryId).sort(),
      events: kept.map((entry) => entry.eventId).sort(),
      attempts: kept.map((entry) => entry.deliveryId).sort(),
    });
    expect(kept).not.toContainEqual(oldDelivered);
    expect(kept).not.toContainEqual(oldFailed);
  });

  it('never deletes a pending delivery or its event, however old', async () => {
    const pending = await delivery('pending', 3000);
    expect(await worker.pruneDeliveries()).toBe(0);
    expect(await remaining()).toEqual({
      deliveries: [pending.deliveryId],
      events: [pending.eventId],
      attempts: [pending.deliveryId],
    });
  });

  it('keeps an event while one of its deliveries is pending', async () => {
    const { eventId } = await delivery('delivered', 60);
    const second = randomUUID();
    await dataSource.query(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at,
         updated_at)
       VALUES ($1, $2, $3, 'pending', 0, $4, $4, $4)`,
      [second, endpointId, eventId, daysAgo(60)],
    );
    expect(await worker.pruneDeliveries()).toBe(1);
    expect((await remaining()).events).toEqual([eventId]);
  });

  it('moves with the clock: a delivery ages out once the retention has passed since it completed', async () => {
    const { deliveryId } = await delivery('delivered', 10);
    expect(await worker.pruneDeliveries()).toBe(0);
    clock.advance(20 * DAY_MS + 1);
    expect(await worker.pruneDeliveries()).toBe(1);
    expect((await remaining()).deliveries).not.toContain(deliveryId);
  });

  it('deletes more than one batch in one pass, and two replicas at once delete each row once', async () => {
    const count = RETENTION_BATCH_SIZE + 50;
    await dataSource.query(
      `WITH events AS (
         INSERT INTO webhook_events (id, organization_id, type, payload, created_at)
         SELECT gen_random_uuid(), $1, 'api_key.created', '{}', $3 FROM generate_series(1, $4)
         RETURNING id
       )
       INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at,
         updated_at, completed_at)
       SELECT gen_random_uuid(), $2, id, 'delivered', 1, $3, $3, $3, $3 FROM events`,
      [organizationId, endpointId, daysAgo(90), count],
    );
    const kept = await delivery('pending', 90);

    const [first, second] = await Promise.all([worker.pruneDeliveries(), worker.pruneDeliveries()]);
    expect(first + second).toBe(count);
    expect(await remaining()).toEqual({
      deliveries: [kept.deliveryId],
      events: [kept.eventId],
      attempts: [kept.deliveryId],
    });
  });
});
