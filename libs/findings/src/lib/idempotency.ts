import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { GatehouseError } from '@gatehouse/contracts';
import { IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_WINDOW_HOURS } from './findings.constants';

/** An answer as first given, replayed to a retry of the same request. */
export interface StoredAnswer {
  status: number;
  body: object;
  location?: string;
}

/** Whose key it is: keys are scoped per organization and credential (api key or user), as Stripe's per account. */
export interface IdempotencyScope {
  organizationId: string;
  credential: string;
  key: string;
}

export function assertIdempotencyKey(key: string): void {
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new GatehouseError(
      'validation_failed',
      'Idempotency-Key must be 1 to 255 printable ASCII characters without spaces',
    );
  }
}

/** What makes two requests "the same": every part that changes what is stored. */
export function requestFingerprint(parts: readonly (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    // Length-prefixed, so that moving bytes from one part to the next changes the hash.
    hash.update(`${bytes.length}:`).update(bytes);
  }
  return hash.digest('hex');
}

/**
 * The Idempotency-Key of a request (IETF httpapi-idempotency-key-header, Stripe's semantics), inside the
 * transaction that does the request's work: the answer is recorded in that transaction, so it exists exactly when
 * the work does, on every replica, and a crash records neither.
 */
export class IdempotencyRecords {
  /**
   * The recorded answer to replay, or undefined to go ahead (the key is then held until the transaction ends).
   * 409 idempotency_in_progress while another transaction holds the key; 422 idempotency_key_reused when the key
   * answered a different request.
   */
  async begin(
    manager: EntityManager,
    scope: IdempotencyScope,
    requestHash: string,
    now: Date,
  ): Promise<StoredAnswer | undefined> {
    const [lock]: Array<{ locked: boolean }> = await manager.query(
      `SELECT pg_try_advisory_xact_lock(hashtextextended('gatehouse.idempotency:' || $1 || '/' || $2 || '/' || $3, 0)) AS locked`,
      [scope.organizationId, scope.credential, scope.key],
    );
    if (!lock?.locked) {
      throw new GatehouseError(
        'idempotency_in_progress',
        'A request with this Idempotency-Key is still being processed; retry once it has been answered',
      );
    }
    const [record]: Array<{
      request_hash: string;
      status_code: number;
      response: string;
      location: string | null;
      expires_at: Date;
    }> = await manager.query(
      `SELECT request_hash, status_code, response, location, expires_at FROM idempotency_records
        WHERE organization_id = $1 AND credential = $2 AND idempotency_key = $3`,
      [scope.organizationId, scope.credential, scope.key],
    );
    if (!record) return undefined;
    if (record.expires_at <= now) {
      await manager.query(
        `DELETE FROM idempotency_records WHERE organization_id = $1 AND credential = $2 AND idempotency_key = $3`,
        [scope.organizationId, scope.credential, scope.key],
      );
      return undefined;
    }
    if (record.request_hash !== requestHash) {
      throw new GatehouseError(
        'idempotency_key_reused',
        'This Idempotency-Key was used for a different request; use a new key for a new upload',
      );
    }
    return {
      status: record.status_code,
      // Parsed from the text as first written: the same keys in the same order, so the replay is byte for byte.
      body: JSON.parse(record.response) as object,
      ...(record.location ? { location: record.location } : {}),
    };
  }

  async record(
    manager: EntityManager,
    scope: IdempotencyScope,
    requestHash: string,
    answer: StoredAnswer,
    now: Date,
  ): Promise<void> {
    const expiresAt = new Date(now.getTime() + IDEMPOTENCY_WINDOW_HOURS * 3600_000);
    await manager.query(
      `INSERT INTO idempotency_records (organization_id, credential, idempotency_key, request_hash, status_code,
                                        response, location, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        scope.organizationId,
        scope.credential,
        scope.key,
        requestHash,
        answer.status,
        JSON.stringify(answer.body),
        answer.location ?? null,
        now,
        expiresAt,
      ],
    );
  }

  /** Forgets answers older than the window; returns how many. */
  async purgeExpired(manager: EntityManager, now: Date): Promise<number> {
    const [row]: Array<{ purged: number }> = await manager.query(
      `WITH purged AS (DELETE FROM idempotency_records WHERE expires_at <= $1 RETURNING 1)
       SELECT count(*)::int AS purged FROM purged`,
      [now],
    );
    return row?.purged ?? 0;
  }
}
