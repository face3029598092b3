import type { Severity } from '../findings.constants';

/** What an upload body is, told by its media type or, for `application/json`, by its content. */
export type UploadFormat = 'sarif' | 'native';

/** Limits of one upload after decompression; each is configurable on findings-service (see docs/FINDINGS.md). */
export interface UploadLimits {
  /** Bytes of the decompressed body; decompression stops here (SCAN_MAX_DECOMPRESSED_BYTES, 256 MiB). */
  decompressedBytes: number;
  /**
   * Seconds one reading of an upload may take, both passes (SCAN_MAX_PROCESSING_SECONDS, 300): a document made of
   * what is slowest to parse (`\u` escapes read at about 1 MiB/s) must not hold a worker, and the queue behind it,
   * for many minutes. Unset: no bound.
   */
  processingSeconds?: number;
  /** SARIF runs per upload (SCAN_MAX_RUNS, 20). */
  runs: number;
  /** Results per run, or findings of a native upload (SCAN_MAX_RESULTS_PER_RUN, 25 000). */
  resultsPerRun: number;
}

/** The scan context one run declares (SARIF) or the query gives (native: one run, index 0). */
export interface RunContext {
  index: number;
  /** `tool.driver.name` (SARIF) or the `tool` query parameter (native); null when neither names one. */
  tool: string | null;
  toolVersion: string | null;
  /** From `versionControlProvenance[0]`: `repositoryUri`, `revisionId`, `branch`; null when absent. */
  repository: string | null;
  commit: string | null;
  /** `branch`, else `revisionTag`. */
  ref: string | null;
  /** SARIF `automationDetails.id` (GitHub's "category", e.g. `.github/workflows/codeql.yml:analyze/language:js/`). */
  automationId?: string | null;
}

export interface MappedLocation {
  /** Repository-relative path where the uri allows (see sarif-reader.ts), never empty. */
  path: string;
  start_line?: number;
  end_line?: number;
  start_column?: number;
}

/** One result of a run, mapped to what Gatehouse stores. Every string is free of NUL and lone surrogates. */
export interface MappedFinding {
  runIndex: number;
  /** Index of the result within its run (SARIF) or within `findings` (native), for error messages. */
  resultIndex: number;
  /** sha256 hex (64 chars) of the documented identity tuple; equal for the same finding in any later scan. */
  identity: string;
  /** The native format's own `fingerprint`, as given (≤ 200 chars); absent for SARIF. */
  fingerprint?: string | null;
  /** Which part of the result the identity came from. */
  identitySource: 'fingerprints' | 'partialFingerprints' | 'fingerprint' | 'computed';
  /** The finding's tool: the run's (SARIF), or the finding's own `tool`, else the run's (native); '' when none. */
  tool: string;
  /** ≤ 200 chars. */
  ruleId: string;
  /** ≤ 500 chars: the rule's shortDescription / name, else the message's first line. */
  title: string;
  /** The result's message (≤ 10 000 chars, cut with '…'); null when empty. */
  description: string | null;
  severity: Severity;
  location: MappedLocation | null;
  /** Rule metadata kept with the finding; empty/null when the run's driver has no rule of that id. */
  rule: {
    name: string | null;
    help: string | null;
    helpUri: string | null;
    tags: string[];
    /** CWE ids found in tags/properties, e.g. `CWE-79`. */
    cwe: string[];
  };
  /** SARIF: `{ level, security_severity, precision, kind }` as given; native: its `metadata`. */
  metadata: Record<string, unknown> | null;
}

export type UploadEvent = { kind: 'run'; run: RunContext } | { kind: 'finding'; finding: MappedFinding };
