import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Agent, fetch } from 'undici';
import { Counter } from 'prom-client';
import { CLOCK, type Clock } from '@gatehouse/contracts';
import { BIND_METRICS, type GatehouseMetrics, type MetricsAware } from '@gatehouse/http';
import { RETRY_DELAY_MAX_MS, retryDelayMs } from './backoff';
import { signWebhook, WebhookSecretBox } from './signature';
import { assertDeliverableUrl, publicOnlyLookup } from './url-safety';
import { WebhookOutbox, keyData } from './webhook-outbox';
import { WEBHOOKS_OPTIONS, type WebhooksOptions } from './webhooks.options';

const BATCH_SIZE = 10;
/** Rows deleted per statement by the retention pass: short transactions, short locks. */
export const RETENTION_BATCH_SIZE = 1000;
/** How often the retention pass runs; it deletes what became older than the retention since the last one. */
const RETENTION_INTERVAL_MS = 3_600_000;
const DAY_MS = 86_400_000;
const ERROR_MAX = 500;
const FOREIGN_KEY_VIOLATION = '23503';

interface ClaimedDelivery {
  id: string;
  attempts: number;
  event_id: string;
  url: string;
  secret_sealed: Buffer;
  payload: unknown;
}

interface AttemptOutcome {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * Delivers the outbox at least once. A due delivery is claimed with FOR UPDATE SKIP LOCKED (so replicas never
 * take the same one) and leased: its next attempt is pushed past the request's timeout before the request is
 * made, so a worker that dies mid-request leaves it to be taken up again once the lease runs out. Each attempt is
 * recorded; a 2xx answer delivers, anything else is retried with backoff until WEBHOOK_MAX_ATTEMPTS, then fails.
 * The same loop emits `api_key.expiring`.
 */
@Injectable()
export class WebhookDeliveryWorker implements OnApplicationBootstrap, OnApplicationShutdown, MetricsAware {
  private readonly logger = new Logger(WebhookDeliveryWorker.name);
  private readonly box: WebhookSecretBox;
  /** Connects only to public addresses (unless the test allowance is set), whatever DNS answers meanwhile. */
  private readonly agent: Agent;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastExpiryCheck = 0;
  private lastRetentionRun = 0;
  private attemptsCounter: Counter<'outcome'> | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly outbox: WebhookOutbox,
    @Inject(WEBHOOKS_OPTIONS) private readonly options: WebhooksOptions,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.box = new WebhookSecretBox(options.encryptionKey);
    this.agent = new Agent({
      connect: options.urlPolicy.allowPrivate ? {} : { lookup: publicOnlyLookup },
    });
  }

  /** `gatehouse_webhook_attempts_total{outcome}`: delivered, retrying (will be tried again) or failed (gave up). */
  [BIND_METRICS](metrics: GatehouseMetrics): void {
    this.attemptsCounter = new Counter({
      name: 'gatehouse_webhook_attempts_total',
      help: 'Webhook delivery attempts made by this instance, by outcome: delivered, retrying, failed',
      labelNames: ['outcome'],
      registers: [metrics.registry],
    });
    for (const outcome of ['delivered', 'retrying', 'failed']) this.attemptsCounter.inc({ outcome }, 0);
  }

  onApplicationBootstrap(): void {
    if (!this.options.delivery.enabled) return;
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.agent.close();
  }

  /** Delivers every due delivery, and emits due expiry events; for tests and the poll loop. */
  async drain(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.tick().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      void this.drain().then(() => {
        if (!this.stopped) this.schedule(this.options.delivery.pollIntervalMs);
      });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    try {
      const now = this.clock.now().getTime();
      if (now - this.lastExpiryCheck >= this.options.delivery.expiryCheckIntervalMs) {
        this.lastExpiryCheck = now;
        await this.emitExpiring();
      }
      if (now - this.lastRetentionRun >= RETENTION_INTERVAL_MS) {
        this.lastRetentionRun = now;
        await this.pruneDeliveries();
      }
      while (!this.stopped) {
        const claimed = await this.claim();
        await Promise.all(claimed.map((delivery) => this.deliver(delivery)));
        if (claimed.length < BATCH_SIZE) break;
      }
    } catch (error) {
      // The database is unreachable or failing: deliveries stay stored, the next poll tries again.
      this.logger.error(`webhook delivery: ${(error as Error).message}`);
    }
  }

  /** Takes up to a batch of due deliveries of enabled endpoints, leased for one request's time and a margin. */
  async claim(): Promise<ClaimedDelivery[]> {
    const now = this.clock.now();
    const leaseUntil = new Date(now.getTime() + this.options.delivery.timeoutMs + 1000);
    return this.dataSource.query(
      `WITH due AS (
         SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
          WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND w.enabled
          ORDER BY d.next_attempt_at
          LIMIT $3
          FOR UPDATE OF d SKIP LOCKED
       ), claimed AS (
         UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = $2, updated_at = $1
           FROM due WHERE d.id = due.id
          RETURNING d.id, d.attempts, d.event_id, d.endpoint_id
       )
       SELECT c.id, c.attempts, c.event_id, w.url, w.secret_sealed, e.payload
         FROM claimed c
         JOIN webhook_endpoints w ON w.id = c.endpoint_id
         JOIN webhook_events e ON e.id = c.event_id`,
      [now, leaseUntil, BATCH_SIZE],
    );
  }

  async deliver(delivery: ClaimedDelivery): Promise<void> {
    const outcome = await this.post(delivery);
    const now = this.clock.now();
    const delivered = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
    const exhausted = delivery.attempts >= this.options.delivery.maxAttempts;
    const status = delivered ? 'delivered' : exhausted ? 'failed' : 'pending';
    const next = new Date(
      now.getTime() + retryDelayMs(delivery.attempts, this.options.delivery.retryBaseMs, RETRY_DELAY_MAX_MS),
    );
    const recorded = this.dataSource.transaction(async (manager) => {
      await manager.query(
        `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, attempted_at, status_code, error, duration_ms)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [delivery.id, delivery.attempts, now, outcome.statusCode, outcome.error, outcome.durationMs],
      );
      // Only while the claim is still ours: a lease that ran out gave the delivery to another attempt.
      await manager.query(
        `UPDATE webhook_deliveries
            SET status = $3, next_attempt_at = $4, last_status_code = $5, last_error = $6, updated_at = $7,
                completed_at = $8
          WHERE id = $1 AND attempts = $2 AND status = 'pending'`,
        [
          delivery.id,
          delivery.attempts,
          status,
          status === 'pending' ? next : now,
          outcome.statusCode,
          outcome.error,
          now,
          status === 'pending' ? null : now,
        ],
      );
    });
    try {
      await recorded;
    } catch (error) {
      // The endpoint was deleted during the request, taking the delivery with it: there is nothing left to record.
      if ((error as { driverError?: { code?: string } }).driverError?.code !== FOREIGN_KEY_VIOLATION)
        throw error;
      return;
    }
    this.attemptsCounter?.inc({ outcome: status === 'pending' ? 'retrying' : status });
    if (status === 'failed') {
      this.logger.warn(`webhook delivery ${delivery.id} failed after ${delivery.attempts} attempts`);
    }
  }

  private async post(delivery: ClaimedDelivery): Promise<AttemptOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const url = await assertDeliverableUrl(delivery.url, this.options.urlPolicy);
      const body = JSON.stringify(delivery.payload);
      const timestamp = Math.floor(this.clock.now().getTime() / 1000);
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Gatehouse-Webhooks/1',
          // The event's id on every attempt: receivers deduplicate on it.
          'webhook-id': delivery.event_id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(
            this.box.open(delivery.secret_sealed),
            delivery.event_id,
            timestamp,
            body,
          ),
        },
        body,
        // A redirect could lead to an address the URL check refused.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.delivery.timeoutMs),
        dispatcher: this.agent,
      });
      // The receiver's answer is not kept: its status is the outcome.
      await response.body?.cancel();
      return {
        statusCode: response.status,
        error: response.ok ? null : `HTTP ${response.status}`,
        durationMs: elapsed(),
      };
    } catch (error) {
      // fetch wraps the socket's error (a refused address, a reset) in a TypeError "fetch failed": say the cause.
      const cause = (error as { cause?: unknown }).cause;
      const message =
        (error as Error).name === 'TimeoutError'
          ? 'timed out'
          : cause instanceof Error
            ? `${(error as Error).message}: ${cause.message}`
            : (error as Error).message;
      return { statusCode: null, error: message.slice(0, ERROR_MAX), durationMs: elapsed() };
    }
  }

  /**
   * Deletes delivered and failed deliveries completed more than `retentionDays` ago (their attempts go with them,
   * ON DELETE CASCADE), then the events left without any delivery and as old; pending deliveries, and the events
   * they carry, are never touched. In batches of RETENTION_BATCH_SIZE rows, each its own statement; rows another
   * replica is deleting at the same moment are skipped (SKIP LOCKED), so replicas never wait on each other.
   * Returns how many deliveries were deleted.
   */
  async pruneDeliveries(): Promise<number> {
    const cutoff = new Date(this.clock.now().getTime() - this.options.delivery.retentionDays * DAY_MS);
    let deliveries = 0;
    for (;;) {
      const deleted = await this.deleteBatch(
        `DELETE FROM webhook_deliveries WHERE id IN (
           SELECT id FROM webhook_deliveries
            WHERE status IN ('delivered', 'failed') AND completed_at < $1
            LIMIT $2
            FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        cutoff,
      );
      deliveries += deleted;
      if (deleted < RETENTION_BATCH_SIZE || this.stopped) break;
    }
    for (;;) {
      const deleted = await this.deleteBatch(
        `DELETE FROM webhook_events WHERE id IN (
           SELECT e.id FROM webhook_events e
            WHERE e.created_at < $1
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
            LIMIT $2
            FOR UPDATE OF e SKIP LOCKED)
         RETURNING id`,
        cutoff,
      );
      if (deleted < RETENTION_BATCH_SIZE || this.stopped) break;
    }
    if (deliveries > 0) {
      this.logger.log(`deleted ${deliveries} webhook deliveries completed before ${cutoff.toISOString()}`);
    }
    return deliveries;
  }

  /** Runs one batch's DELETE … RETURNING and counts its rows (a SELECT over it: the same answer on every driver). */
  private async deleteBatch(sql: string, cutoff: Date): Promise<number> {
    const [row] = await this.dataSource.query<{ count: number }[]>(
      `WITH deleted AS (${sql}) SELECT count(*)::int AS count FROM deleted`,
      [cutoff, RETENTION_BATCH_SIZE],
    );
    return row.count;
  }

  /**
   * One `api_key.expiring` per endpoint, key and expiry date, when a key enters the endpoint's window: the notice
   * row, unique, is written in the event's transaction, so a restart or a second replica sends none twice.
   */
  async emitExpiring(): Promise<number> {
    const now = this.clock.now();
    return this.dataSource.transaction(async (manager) => {
      const notices: { endpoint_id: string; api_key_id: string }[] = await manager.query(
        `INSERT INTO webhook_expiry_notices (endpoint_id, api_key_id, expires_at)
         SELECT w.id, k.id, k.expires_at
           FROM webhook_endpoints w JOIN api_keys k ON k.organization_id = w.organization_id
          WHERE w.enabled AND 'api_key.expiring' = ANY (w.event_types)
            AND k.revoked_at IS NULL AND k.deleted_at IS NULL
            AND k.expires_at > $1 AND k.expires_at <= $1 + make_interval(days => w.expiring_within_days)
         ON CONFLICT DO NOTHING
         RETURNING endpoint_id, api_key_id`,
        [now],
      );
      for (const notice of notices) {
        const [key]: (Parameters<typeof keyData>[0] & { organization_id: string })[] = await manager.query(
          `SELECT id, organization_id, name, client_id, environment, key_version, expires_at
             FROM api_keys WHERE id = $1`,
          [notice.api_key_id],
        );
        await this.outbox.emit(manager, key.organization_id, 'api_key.expiring', { api_key: keyData(key) }, [
          notice.endpoint_id,
        ]);
      }
      return notices.length;
    });
  }
}
