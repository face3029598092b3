import { createHash } from 'node:crypto';
import type { ScanContext } from './ci-env';

/** Changing the derivation gives every upload a new key: bump it with the derivation, never silently. */
const DERIVATION = 'gatehouse-cli/upload/v1';

export interface UploadIdentity {
  /** sha256 (hex) of the file as read, before the CLI compresses it. */
  contentSha256: string;
  mediaType: string;
  context: ScanContext;
}

/**
 * The `Idempotency-Key` of an upload: a hash of what the upload is (the file's content and media type) and of what
 * it is of (repository, commit, ref, tool), so that a job step retried or re-run with the same report for the same
 * commit gets the first answer back (within the server's 24 hours) instead of storing a second scan, while any other
 * upload gets another key. Nothing in it depends on time, the machine or the attempt.
 */
export function idempotencyKey(identity: UploadIdentity): string {
  const { context } = identity;
  const material = JSON.stringify([
    DERIVATION,
    identity.contentSha256,
    identity.mediaType,
    context.repository ?? null,
    context.commit ?? null,
    context.ref ?? null,
    context.tool ?? null,
  ]);
  return `gatehouse-cli-${createHash('sha256').update(material).digest('hex')}`;
}

export function sha256Hex(content: Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}
