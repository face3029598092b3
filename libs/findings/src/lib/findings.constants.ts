/** The five severities, most severe first; SARIF levels and `security-severity` scores map onto them. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** `open` from first sight; `fixed` once a later scan of its stream no longer reports it; `open` again if it returns. */
export const FINDING_STATES = ['open', 'fixed'] as const;
export type FindingState = (typeof FINDING_STATES)[number];

export const SCAN_STATUSES = ['queued', 'processing', 'completed', 'failed'] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

export const SCAN_FORMATS = ['sarif', 'native'] as const;
export type ScanFormat = (typeof SCAN_FORMATS)[number];

/** What a finding's history records for each scan that touched it. */
export const FINDING_EVENTS = ['new', 'seen', 'reopened', 'fixed'] as const;
export type FindingEvent = (typeof FINDING_EVENTS)[number];

export const SARIF_MEDIA_TYPE = 'application/sarif+json';

/** Defaults of findings-service's upload limits (each a variable, see docs/FINDINGS.md). */
export const UPLOAD_LIMIT_DEFAULTS = {
  /** As received, i.e. compressed: GitHub code scanning's 10 MB gzipped. */
  SCAN_MAX_UPLOAD_BYTES: 10 * 1024 * 1024,
  SCAN_MAX_DECOMPRESSED_BYTES: 256 * 1024 * 1024,
  SCAN_MAX_RUNS: 20,
  SCAN_MAX_RESULTS_PER_RUN: 25_000,
  /** A 25 000-result report reads in a few seconds; one made of `\u` escapes at about 1 MiB/s. */
  SCAN_MAX_PROCESSING_SECONDS: 300,
  /** Larger uploads (decompressed) are stored, answered 202 and processed after the answer. */
  SCAN_SYNC_MAX_BYTES: 4 * 1024 * 1024,
} as const;

/** How long an Idempotency-Key's answer is replayed. */
export const IDEMPOTENCY_WINDOW_HOURS = 24;
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
