/**
 * The CLI's exit codes, one per kind of outcome a pipeline branches on (docs/CLI.md#exit-codes). Any other
 * non-zero code comes from Node.js itself (e.g. a crash), never from the CLI on purpose.
 */
export const ExitCode = {
  /** Done. */
  Ok: 0,
  /** `upload --fail-on`: open findings at or above the threshold exist. */
  FindingsOverThreshold: 1,
  /** Bad flags or arguments, missing configuration, an unreadable file. Nothing was sent. */
  Usage: 2,
  /** The server refused the credential (401) or its permissions (403): a revoked, expired or disabled key. */
  AuthRefused: 3,
  /** The service could not be reached or kept answering 429/5xx until the retries ran out. */
  Unavailable: 4,
  /** The server refused the request as invalid: not SARIF or native JSON, a limit, an unknown id, a conflict. */
  Refused: 5,
  /** An answer the CLI did not expect (a bug, or a server of another version). */
  Unexpected: 6,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
