import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { CLOCK, GatehouseError, type Clock } from '@gatehouse/contracts';
import type { UploadScanQueryDto } from './dto/upload-scan.dto';
import type { ScanError } from './entities/scan.entity';
import { FINDINGS_OPTIONS, type FindingsOptions } from './findings.options';
import { IdempotencyRecords } from './idempotency';
import type { ContentCoding } from './ingest/decompress';
import type { UploadMediaType } from './ingest/upload-reader';
import { ScanIngestService } from './scan-ingest.service';

/** How often expired Idempotency-Key answers are deleted. */
const PURGE_INTERVAL_MS = 10 * 60_000;

interface ClaimedScan {
  id: string;
  organization_id: string;
  api_key_id: string | null;
  client_id: string | null;
  received_at: Date;
  attempts: number;
}

interface PayloadRow {
  media_type: UploadMediaType;
  content_coding: ContentCoding;
  query: UploadScanQueryDto;
  body: Buffer;
}

/**
 * Applies stored uploads (answered 202), one at a time per instance, in the order received. A scan is claimed in a
 * short transaction (status `processing`, one more attempt) and applied in a second one that holds its row: every
 * instance skips a held row, and an instance that dies mid-scan leaves nothing applied and the row free, so the
 * next poll of any instance takes it up again. After SCAN_MAX_ATTEMPTS interrupted attempts (a document that
 * keeps ending the process, say) the scan fails instead of blocking the queue forever.
 */
@Injectable()
export class ScanWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ScanWorker.name);
  private readonly idempotency = new IdempotencyRecords();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private wakeAgain = false;
  private stopped = false;
  private lastPurge = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ingest: ScanIngestService,
    @Inject(FINDINGS_OPTIONS) private readonly options: FindingsOptions,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.worker.enabled) return;
    this.ingest.onStored(() => this.kick());
    // Uploads stored before this instance started (or by an instance that died) are picked up at once.
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // A scan being applied finishes (or, if the process is ended first, rolls back and is taken up elsewhere).
    await this.running;
  }

  /** Start now rather than at the next poll. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) this.wakeAgain = true;
    else this.schedule(0);
  }

  /** Applies every stored upload that is waiting, then returns; for tests and the poll loop. */
  async drain(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.drainQueue().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      void this.drain().then(() => {
        if (this.stopped) return;
        const again = this.wakeAgain;
        this.wakeAgain = false;
        this.schedule(again ? 0 : this.options.worker.pollIntervalMs);
      });
    }, delayMs);
  }

  private async drainQueue(): Promise<void> {
    try {
      while (!this.stopped && (await this.processNext())) {
        // Another one may be waiting.
      }
      await this.observeQueue();
      await this.purgeIdempotency();
    } catch (error) {
      // The database is unreachable or failing: the next poll tries again; nothing is lost (scans stay stored).
      this.logger.error(`scan queue: ${(error as Error).message}`);
    }
  }

  /** Claims and applies the oldest waiting scan; false when none was waiting (or it could not be applied now). */
  private async processNext(): Promise<boolean> {
    const now = this.clock.now();
    // A CTE, so that the statement answers rows like a SELECT (TypeORM wraps an UPDATE's as [rows, count]).
    const [claimed]: ClaimedScan[] = await this.dataSource.query(
      `WITH claimed AS (
         UPDATE scans SET status = 'processing', attempts = attempts + 1, started_at = $1
          WHERE id = (SELECT id FROM scans WHERE status IN ('queued', 'processing')
                       ORDER BY received_at, id FOR UPDATE SKIP LOCKED LIMIT 1)
          RETURNING id, organization_id, api_key_id, client_id, received_at, attempts
       )
       SELECT * FROM claimed`,
      [now],
    );
    if (!claimed) return false;
    if (claimed.attempts > this.options.worker.maxAttempts) {
      await this.fail(claimed.id, {
        code: 'processing_failed',
        message: `Processing was interrupted ${claimed.attempts - 1} times; the upload is given up (SCAN_MAX_ATTEMPTS)`,
      });
      return true;
    }
    const started = performance.now();
    try {
      const outcome = await this.dataSource.transaction(async (manager) => {
        const [payload]: PayloadRow[] = await manager.query(
          `SELECT p.media_type, p.content_coding, p.query, p.body
             FROM scans s JOIN scan_payloads p ON p.scan_id = s.id
            WHERE s.id = $1 AND s.status = 'processing'
            FOR UPDATE OF s SKIP LOCKED`,
          [claimed.id],
        );
        // Taken by another instance between the claim and here: it is that instance's now.
        if (!payload) return undefined;
        return this.ingest.applyStored(
          manager,
          {
            id: claimed.id,
            organizationId: claimed.organization_id,
            apiKeyId: claimed.api_key_id,
            clientId: claimed.client_id,
            receivedAt: claimed.received_at,
          },
          {
            mediaType: payload.media_type,
            coding: payload.content_coding,
            query: payload.query,
            body: payload.body,
          },
        );
      });
      if (outcome) {
        this.ingest.findingsMetrics?.completed(
          outcome.format,
          'async',
          outcome.results,
          (performance.now() - started) / 1000,
        );
      }
      return true;
    } catch (error) {
      if (error instanceof GatehouseError && error.status < 500) {
        // The document itself is refused (invalid SARIF, a limit): retrying cannot help.
        await this.fail(claimed.id, {
          code: error.code,
          message: error.message,
          ...(error.details !== undefined && { details: error.details }),
        });
        return true;
      }
      this.logger.error(
        `scan ${claimed.id}: attempt ${claimed.attempts} failed: ${(error as Error).message}`,
      );
      return false;
    }
  }

  private async fail(scanId: string, scanError: ScanError): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `UPDATE scans SET status = 'failed', error = $2::jsonb, completed_at = $3 WHERE id = $1`,
        [scanId, JSON.stringify(scanError), this.clock.now()],
      );
      await manager.query(`DELETE FROM scan_payloads WHERE scan_id = $1`, [scanId]);
    });
    this.ingest.findingsMetrics?.scans.inc({ outcome: 'failed', format: 'unknown', mode: 'async' });
    this.logger.warn(`scan ${scanId} failed: ${scanError.code}: ${scanError.message}`);
  }

  private async observeQueue(): Promise<void> {
    const gauge = this.ingest.findingsMetrics?.queued;
    if (!gauge) return;
    const [row]: Array<{ waiting: number }> = await this.dataSource.query(
      `SELECT count(*)::int AS waiting FROM scans WHERE status IN ('queued', 'processing')`,
    );
    gauge.set(row?.waiting ?? 0);
  }

  private async purgeIdempotency(): Promise<void> {
    const now = this.clock.now();
    if (now.getTime() - this.lastPurge < PURGE_INTERVAL_MS) return;
    this.lastPurge = now.getTime();
    await this.idempotency.purgeExpired(this.dataSource.manager, now);
  }
}
