import { randomUUID } from 'node:crypto';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { CLOCK, GatehouseError, type Clock, type Principal } from '@gatehouse/contracts';
import { BIND_METRICS, type GatehouseMetrics, type MetricsAware } from '@gatehouse/http';
import type { UploadScanQueryDto, ScanSummaryDto } from './dto/upload-scan.dto';
import { FINDINGS_OPTIONS, type FindingsOptions } from './findings.options';
import { FindingsMetrics } from './findings.metrics';
import {
  assertIdempotencyKey,
  IdempotencyRecords,
  requestFingerprint,
  type IdempotencyScope,
  type StoredAnswer,
} from './idempotency';
import { decompressedChunks, parseContentCoding, type ContentCoding } from './ingest/decompress';
import { cutText } from './ingest/text';
import {
  parseUploadMediaType,
  READ_SLICE_MS,
  readUpload,
  type UploadMediaType,
  type UploadReaderOptions,
} from './ingest/upload-reader';
import { normalizeRepository } from './repository';
import type { MappedFinding, RunContext } from './ingest/upload.types';
import {
  GROUP_COMMIT_MAX_BYTES,
  GROUP_COMMIT_MAX_FINDINGS,
  ScanBatcher,
  type BatchedUpload,
} from './scan-batcher';
import { ScanProcessor, type ScanOutcome, type ScanSubject } from './scan-processor';

/** An upload as findings-service received it. */
export interface ReceivedUpload {
  /** The bytes sent (≤ SCAN_MAX_UPLOAD_BYTES), possibly gzip. */
  body: Buffer;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  query: UploadScanQueryDto;
  idempotencyKey: string | undefined;
  /** `Prefer: respond-async`: answer 202 once stored, whatever the size. */
  respondAsync: boolean;
}

export interface UploadAnswer {
  status: 201 | 202;
  body: ScanSummaryDto;
  /** `/api/v1/scans/{id}` for a 202. */
  location?: string;
  /** True when this is the recorded answer of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

/** A stored upload, as the worker reads it back. */
export interface StoredUpload {
  mediaType: UploadMediaType;
  coding: ContentCoding;
  query: UploadScanQueryDto;
  body: Buffer;
}

/**
 * How large the upload is once decompressed, as far as can be told without decompressing: a gzip body's trailer
 * declares it (ISIZE, modulo 2^32, beyond every limit here). Only the choice of answering in the request or with
 * 202 depends on it; a trailer that lies changes that choice, never a limit, which decompression enforces itself.
 */
export function decompressedSizeOf(body: Buffer, coding: ContentCoding): number {
  if (coding !== 'gzip' || body.length < 18) return body.length;
  return Math.max(body.length, body.readUInt32LE(body.length - 4));
}

/**
 * A gzip body about to be stored must be whole gzip within the decompressed limit: refused now (400, 413) rather
 * than accepted with 202 and failed later. Inflating costs a fraction of reading the document (a 34 MiB report
 * inflates in about a tenth of a second) and holds nothing: each chunk is counted and dropped.
 */
async function assertWholeGzip(body: Buffer, maxBytes: number): Promise<void> {
  let sliceStart = performance.now();
  for await (const chunk of decompressedChunks(body, 'gzip', maxBytes)) {
    void chunk;
    if (performance.now() - sliceStart >= READ_SLICE_MS) {
      await nextMacrotask();
      sliceStart = performance.now();
    }
  }
}

export function scanLocation(scanId: string): string {
  return `/api/v1/scans/${scanId}`;
}

function summaryOf(scanId: string, status: 'completed' | 'queued', outcome?: ScanOutcome): ScanSummaryDto {
  return {
    scan_id: scanId,
    status,
    results: outcome?.results ?? 0,
    new: outcome?.new ?? 0,
    unchanged: outcome?.unchanged ?? 0,
    fixed: outcome?.fixed ?? 0,
    reopened: outcome?.reopened ?? 0,
  };
}

function uploaderOf(principal: Principal): {
  apiKeyId: string | null;
  clientId: string | null;
  userId: string | null;
  credential: string;
} {
  return principal.kind === 'api_key'
    ? {
        apiKeyId: principal.apiKeyId,
        clientId: principal.clientId,
        userId: null,
        credential: `key:${principal.apiKeyId}`,
      }
    : { apiKeyId: null, clientId: null, userId: principal.userId, credential: `user:${principal.userId}` };
}

/**
 * Receives uploads of findings. Small ones are applied in the request, in one transaction (201 with the summary);
 * large ones (or `Prefer: respond-async`) are stored in that transaction and answered 202, and a worker of any
 * instance applies them (ScanWorker). Either way the Idempotency-Key's answer is recorded in the same transaction
 * as the work it describes.
 */
@Injectable()
export class ScanIngestService implements MetricsAware {
  private readonly processor = new ScanProcessor();
  private readonly idempotency = new IdempotencyRecords();
  private metrics: FindingsMetrics | undefined;
  private readonly storedListeners = new Set<() => void>();
  private readonly batcher: ScanBatcher;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(FINDINGS_OPTIONS) private readonly options: FindingsOptions,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.batcher = new ScanBatcher(dataSource, () => clock.now(), options.preparedStatements);
  }

  [BIND_METRICS](metrics: GatehouseMetrics): void {
    this.metrics = new FindingsMetrics(metrics.registry);
  }

  get findingsMetrics(): FindingsMetrics | undefined {
    return this.metrics;
  }

  /** Called after an upload is stored for the worker: this instance's worker starts on it at once. */
  onStored(listener: () => void): void {
    this.storedListeners.add(listener);
  }

  async receive(principal: Principal, upload: ReceivedUpload): Promise<UploadAnswer> {
    // The cheap refusals first, before any database work.
    const mediaType = parseUploadMediaType(upload.contentType);
    const coding = parseContentCoding(upload.contentEncoding);
    if (upload.body.length === 0) throw new GatehouseError('bad_request', 'Request body is empty');
    if (upload.idempotencyKey !== undefined) assertIdempotencyKey(upload.idempotencyKey);

    const uploader = uploaderOf(principal);
    const scope: IdempotencyScope | undefined =
      upload.idempotencyKey === undefined
        ? undefined
        : {
            organizationId: principal.organizationId,
            credential: uploader.credential,
            key: upload.idempotencyKey,
          };
    const requestHash = scope
      ? requestFingerprint([
          'POST /api/v1/findings',
          JSON.stringify(Object.entries(upload.query).sort(([a], [b]) => a.localeCompare(b))),
          mediaType,
          coding,
          upload.body,
        ])
      : '';
    const deferred =
      upload.respondAsync || decompressedSizeOf(upload.body, coding) > this.options.syncMaxBytes;
    const now = this.clock.now();
    const scan: ScanSubject = {
      id: randomUUID(),
      organizationId: principal.organizationId,
      apiKeyId: uploader.apiKeyId,
      clientId: uploader.clientId,
      receivedAt: now,
    };
    const started = performance.now();
    let appliedFormat: ScanOutcome['format'] = 'native';

    // Small uploads without an Idempotency-Key are read whole now and applied in a group commit with the others
    // arriving meanwhile (scan-batcher.ts); one with a key records its answer in its own transaction, below.
    if (!deferred && !scope && decompressedSizeOf(upload.body, coding) <= GROUP_COMMIT_MAX_BYTES) {
      const read = await this.readWhole(upload.body, { mediaType, coding, query: upload.query });
      if (read) {
        const outcome = await this.batcher.submit({
          scan,
          userId: uploader.userId,
          format: read.format,
          runs: read.runs,
          findings: read.findings,
          receivedBytes: upload.body.length,
        });
        this.metrics?.completed(
          outcome.format,
          'sync',
          outcome.results,
          (performance.now() - started) / 1000,
        );
        return { status: 201, body: summaryOf(scan.id, 'completed', outcome), replayed: false };
      }
    }

    const answer = await this.dataSource.transaction(async (manager): Promise<UploadAnswer> => {
      if (scope) {
        const recorded = await this.idempotency.begin(manager, scope, requestHash, now);
        if (recorded) return replayOf(recorded);
      }
      // After the key's check: a replay is answered without inflating the body again, a reused key is 422.
      if (deferred && coding === 'gzip') {
        await assertWholeGzip(upload.body, this.options.limits.decompressedBytes);
      }
      // A stored upload's row is written now, with the query's context; a scan applied here is written once, at
      // the end, with everything it found (one statement instead of two).
      if (deferred) {
        await manager.query(
          `INSERT INTO scans (id, organization_id, api_key_id, client_id, user_id, status, repository, ref,
                              commit_sha, tools, received_bytes, received_at)
           VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9::jsonb, $10, $11)`,
          [
            scan.id,
            scan.organizationId,
            uploader.apiKeyId,
            uploader.clientId,
            uploader.userId,
            normalizeRepository(upload.query.repository ?? ''),
            // Validated lengths count a character and its variation selector as one; the columns do not.
            cutText(upload.query.ref ?? '', 500),
            cutText(upload.query.commit ?? '', 200),
            JSON.stringify(upload.query.tool ? [{ name: upload.query.tool, version: null }] : []),
            upload.body.length,
            now,
          ],
        );
      }
      let result: UploadAnswer;
      if (deferred) {
        await manager.query(
          `INSERT INTO scan_payloads (scan_id, media_type, content_coding, query, body) VALUES ($1, $2, $3, $4::jsonb, $5)`,
          [scan.id, mediaType, coding, JSON.stringify(upload.query), upload.body],
        );
        result = {
          status: 202,
          body: summaryOf(scan.id, 'queued'),
          location: scanLocation(scan.id),
          replayed: false,
        };
      } else {
        const outcome = await this.processor.apply(
          manager,
          scan,
          upload.body,
          this.readerOptions({ mediaType, coding, query: upload.query }),
        );
        await manager.query(
          `INSERT INTO scans (id, organization_id, api_key_id, client_id, user_id, status, format, repository, ref,
                              commit_sha, tools, results, new_count, unchanged_count, fixed_count, reopened_count,
                              received_bytes, attempts, received_at, started_at, completed_at)
           VALUES ($1, $2, $3, $4, $5, 'completed', $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15, $16, 0,
                   $17, $17, $18)`,
          [
            scan.id,
            scan.organizationId,
            uploader.apiKeyId,
            uploader.clientId,
            uploader.userId,
            outcome.format,
            outcome.repository,
            outcome.ref,
            outcome.commitSha,
            JSON.stringify(outcome.tools),
            outcome.results,
            outcome.new,
            outcome.unchanged,
            outcome.fixed,
            outcome.reopened,
            upload.body.length,
            now,
            this.clock.now(),
          ],
        );
        appliedFormat = outcome.format;
        result = { status: 201, body: summaryOf(scan.id, 'completed', outcome), replayed: false };
      }
      if (scope) {
        await this.idempotency.record(
          manager,
          scope,
          requestHash,
          {
            status: result.status,
            body: result.body,
            ...(result.location ? { location: result.location } : {}),
          },
          now,
        );
      }
      return result;
    });

    if (answer.replayed) {
      this.metrics?.scans.inc({ outcome: 'replayed', format: 'unknown', mode: deferred ? 'async' : 'sync' });
    } else if (answer.status === 202) {
      this.metrics?.scans.inc({ outcome: 'queued', format: 'unknown', mode: 'async' });
      for (const listener of this.storedListeners) listener();
    } else {
      this.metrics?.completed(
        appliedFormat,
        'sync',
        answer.body.results,
        (performance.now() - started) / 1000,
      );
    }
    return answer;
  }

  /**
   * Applies a stored upload in the caller's transaction (the worker's, which holds the scan's row). Completes the
   * scan and drops its payload; a GatehouseError means the document itself is refused, and the caller records
   * the scan as failed.
   */
  async applyStored(manager: EntityManager, scan: ScanSubject, upload: StoredUpload): Promise<ScanOutcome> {
    const outcome = await this.processor.apply(manager, scan, upload.body, this.readerOptions(upload));
    await this.complete(manager, scan.id, outcome);
    await manager.query(`DELETE FROM scan_payloads WHERE scan_id = $1`, [scan.id]);
    return outcome;
  }

  /**
   * A small upload's findings, read before any database work (a refused document costs no transaction); null
   * when it holds more than a group commit takes (a gzip trailer may understate the size), for the streaming path.
   */
  private async readWhole(
    body: Buffer,
    upload: Omit<StoredUpload, 'body'>,
  ): Promise<Pick<BatchedUpload, 'format' | 'runs' | 'findings'> | null> {
    const { reader, events } = readUpload(body, this.readerOptions(upload));
    const findings: MappedFinding[] = [];
    for await (const event of events) {
      if (event.kind === 'run') continue;
      if (findings.length >= GROUP_COMMIT_MAX_FINDINGS) return null;
      findings.push(event.finding);
    }
    const runs: readonly RunContext[] = reader.runs;
    return { format: reader.format, runs, findings };
  }

  private readerOptions(upload: Omit<StoredUpload, 'body'>): UploadReaderOptions {
    const { repository, commit, ref, tool } = upload.query;
    return {
      mediaType: upload.mediaType,
      coding: upload.coding,
      limits: this.options.limits,
      context: {
        ...(repository !== undefined && { repository }),
        ...(commit !== undefined && { commit }),
        ...(ref !== undefined && { ref }),
        ...(tool !== undefined && { tool }),
      },
    };
  }

  private async complete(manager: EntityManager, scanId: string, outcome: ScanOutcome): Promise<void> {
    await manager.query(
      `UPDATE scans
          SET status = 'completed', format = $2, results = $3, new_count = $4, unchanged_count = $5,
              fixed_count = $6, reopened_count = $7, completed_at = $8, error = NULL, repository = $9, ref = $10,
              commit_sha = $11, tools = $12::jsonb
        WHERE id = $1`,
      [
        scanId,
        outcome.format,
        outcome.results,
        outcome.new,
        outcome.unchanged,
        outcome.fixed,
        outcome.reopened,
        this.clock.now(),
        outcome.repository,
        outcome.ref,
        outcome.commitSha,
        JSON.stringify(outcome.tools),
      ],
    );
  }
}

function replayOf(recorded: StoredAnswer): UploadAnswer {
  return {
    status: recorded.status === 202 ? 202 : 201,
    body: recorded.body as ScanSummaryDto,
    ...(recorded.location ? { location: recorded.location } : {}),
    replayed: true,
  };
}
