import type { UploadLimits } from './ingest/upload.types';

/** What findings-service's configuration decides for this slice (see apps/findings-service config). */
export interface FindingsOptions {
  /** Body as received (compressed), SCAN_MAX_UPLOAD_BYTES. */
  maxUploadBytes: number;
  limits: UploadLimits;
  /** Larger uploads (decompressed, see {@link decompressedSizeOf}) are stored and answered 202, SCAN_SYNC_MAX_BYTES. */
  syncMaxBytes: number;
  /**
   * DATABASE_PREPARED_STATEMENTS: the group commit's statements are prepared by name on each connection. False
   * behind a pooler in transaction mode that cannot carry them from one transaction to the next (PgBouncer before
   * 1.21, or without max_prepared_statements).
   */
  preparedStatements: boolean;
  worker: {
    /** False: this instance never processes stored uploads (another one must). */
    enabled: boolean;
    /** How often an idle worker looks for stored uploads, SCAN_WORKER_POLL_MS. */
    pollIntervalMs: number;
    /** A stored upload whose processing was interrupted this many times fails, SCAN_MAX_ATTEMPTS. */
    maxAttempts: number;
  };
}

export const FINDINGS_OPTIONS = Symbol('FINDINGS_OPTIONS');
