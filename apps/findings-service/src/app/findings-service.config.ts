import { IsIn, IsInt, Max, Min } from 'class-validator';
import { UserTokenVerifierConfig } from '@gatehouse/auth';
import { UPLOAD_LIMIT_DEFAULTS, type FindingsOptions } from '@gatehouse/findings';

const MiB = 1024 * 1024;

export class FindingsServiceConfig extends UserTokenVerifierConfig {
  override PORT: number = 3002;
  override MANAGEMENT_PORT: number = 9002;

  /** Behind the gateway: its X-Forwarded-For is believed on requests carrying GATEWAY_SECRET. */
  override get gatewaySecretRequired(): boolean {
    return true;
  }

  override get behindGateway(): boolean {
    return true;
  }

  /**
   * Largest upload of findings as received (compressed), in bytes. Keep the gateway's FINDINGS_UPLOAD_LIMIT_BYTES
   * equal; both hold each upload in memory, hence the same ceiling of 64 MiB.
   */
  @IsInt()
  @Min(1024)
  @Max(64 * MiB)
  SCAN_MAX_UPLOAD_BYTES: number = UPLOAD_LIMIT_DEFAULTS.SCAN_MAX_UPLOAD_BYTES;

  /** Largest upload once decompressed; decompression stops here. */
  @IsInt()
  @Min(1024)
  @Max(4096 * MiB)
  SCAN_MAX_DECOMPRESSED_BYTES: number = UPLOAD_LIMIT_DEFAULTS.SCAN_MAX_DECOMPRESSED_BYTES;

  @IsInt()
  @Min(1)
  @Max(1000)
  SCAN_MAX_RUNS: number = UPLOAD_LIMIT_DEFAULTS.SCAN_MAX_RUNS;

  @IsInt()
  @Min(1)
  @Max(1_000_000)
  SCAN_MAX_RESULTS_PER_RUN: number = UPLOAD_LIMIT_DEFAULTS.SCAN_MAX_RESULTS_PER_RUN;

  /**
   * Longest time one reading of an upload may take (both passes); past it the scan is refused with 422
   * limit_exceeded. A document made of what is slowest to parse must not hold a worker, and the queue, for long.
   */
  @IsInt()
  @Min(1)
  @Max(3600)
  SCAN_MAX_PROCESSING_SECONDS: number = UPLOAD_LIMIT_DEFAULTS.SCAN_MAX_PROCESSING_SECONDS;

  /**
   * Uploads larger than this once decompressed (a gzip body's size as its trailer declares it) are stored,
   * answered 202 and processed after the answer; 0: all of them.
   */
  @IsInt()
  @Min(0)
  @Max(4096 * MiB)
  SCAN_SYNC_MAX_BYTES: number = UPLOAD_LIMIT_DEFAULTS.SCAN_SYNC_MAX_BYTES;

  /** False: this instance answers uploads but never processes stored ones (another instance must). */
  @IsIn(['true', 'false'], { message: 'SCAN_WORKER_ENABLED must be true or false' })
  SCAN_WORKER_ENABLED: string = 'true';

  @IsInt()
  @Min(50)
  @Max(60_000)
  SCAN_WORKER_POLL_MS: number = 1000;

  /** False behind PgBouncer < 1.21 in transaction mode (see FindingsOptions.preparedStatements). */
  @IsIn(['true', 'false'], { message: 'DATABASE_PREPARED_STATEMENTS must be true or false' })
  DATABASE_PREPARED_STATEMENTS: string = 'true';

  @IsInt()
  @Min(1)
  @Max(100)
  SCAN_MAX_ATTEMPTS: number = 3;

  get findings(): FindingsOptions {
    return {
      maxUploadBytes: this.SCAN_MAX_UPLOAD_BYTES,
      syncMaxBytes: this.SCAN_SYNC_MAX_BYTES,
      preparedStatements: this.DATABASE_PREPARED_STATEMENTS === 'true',
      limits: {
        decompressedBytes: this.SCAN_MAX_DECOMPRESSED_BYTES,
        runs: this.SCAN_MAX_RUNS,
        resultsPerRun: this.SCAN_MAX_RESULTS_PER_RUN,
        processingSeconds: this.SCAN_MAX_PROCESSING_SECONDS,
      },
      worker: {
        enabled: this.SCAN_WORKER_ENABLED === 'true',
        pollIntervalMs: this.SCAN_WORKER_POLL_MS,
        maxAttempts: this.SCAN_MAX_ATTEMPTS,
      },
    };
  }
}
