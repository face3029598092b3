import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, type Repository } from 'typeorm';
import { CLOCK, type Clock } from '@gatehouse/contracts';
import { hashApiKey, parseApiKey } from '@gatehouse/crypto';
import { ApiKeyEntity } from '@gatehouse/persistence';
import { RevocationRegistry } from '@gatehouse/revocation';
import type { Actor } from './actor';
import { AuditService } from './audit.service';
import type { LeakedKeyReportDto } from './dto/report-leaked-keys.dto';

/** GitHub's feedback labels: true_positive for a working credential, false_positive for anything else. */
export const LEAKED_KEY_LABELS = ['true_positive', 'false_positive'] as const;
export type LeakedKeyLabel = (typeof LEAKED_KEY_LABELS)[number];

/** One answer per distinct token of a report, in the format GitHub's partner program reads back. */
export interface LeakedKeyFeedback {
  token_raw: string;
  token_type: string;
  label: LeakedKeyLabel;
}

/** Who the audit trail names for revocations made on a reporter's word. */
export const LEAKED_KEY_REPORT_ACTOR = 'system:leaked-key-report';

export interface LeakedKeyReportContext {
  ip: string | null;
  requestId: string | null;
}

/** Which of a key's secrets leaked. */
type LeakedSecret = 'current' | 'previous';

interface Leak {
  report: LeakedKeyReportDto;
  secret: LeakedSecret;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * A reporter's text as PostgreSQL's jsonb stores it: no NUL, no lone surrogate. Altered rather than refused, so
 * that an odd URL never stops the revocation of a leaked key.
 */
function storable(value: string | undefined): string | null {
  if (value === undefined) return null;
  return value.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * Turns a secret scanner's report of leaked strings into revocations. A string that is a Gatehouse key whose
 * secret still authenticates (the current secret, or the previous one within its rotation grace period, of a
 * key neither revoked, deleted nor expired; a disabled key counts, since it could be enabled again) is revoked at
 * once, whatever its organization: as a revocation by an admin, in one transaction with its audit events, then
 * broadcast so that every node refuses its tokens. Everything else changes nothing and is a false positive.
 */
@Injectable()
export class LeakedKeysService {
  private readonly logger = new Logger(LeakedKeysService.name);

  constructor(
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
    private readonly audit: AuditService,
    private readonly revocations: RevocationRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Only ever called on a report whose signature was verified (LeakedKeyReportGuard). */
  async report(
    reports: readonly LeakedKeyReportDto[],
    context: LeakedKeyReportContext,
  ): Promise<LeakedKeyFeedback[]> {
    // A token reported twice in one report is handled once, as its first entry.
    const distinct = new Map<string, LeakedKeyReportDto>();
    for (const report of reports) if (!distinct.has(report.token)) distinct.set(report.token, report);

    // Only strings with a Gatehouse key's shape and checksum are looked up.
    const byHash = new Map<string, LeakedKeyReportDto>();
    for (const report of distinct.values()) {
      if (parseApiKey(report.token)) byHash.set(hashApiKey(report.token).toString('hex'), report);
    }
    const revoked = new Set<string>();
    if (byHash.size > 0) {
      const now = this.clock.now();
      const hashes = [...byHash.keys()].map((hex) => Buffer.from(hex, 'hex'));
      const candidates = await this.keys
        .createQueryBuilder('k')
        .where('k.revoked_at IS NULL')
        .andWhere('k.deleted_at IS NULL')
        .andWhere(
          new Brackets((qb) =>
            qb.where('k.key_hash IN (:...hashes)').orWhere('k.previous_key_hash IN (:...hashes)'),
          ),
          { hashes },
        )
        .getMany();
      for (const key of candidates) {
        const leaks = this.liveLeaks(key, byHash, now);
        if (leaks.length > 0 && (await this.revoke(key, leaks, context))) {
          for (const leak of leaks) revoked.add(leak.report.token);
        }
      }
    }
    return [...distinct.values()].map((report) => ({
      token_raw: report.token,
      token_type: report.type ?? '',
      label: revoked.has(report.token) ? 'true_positive' : 'false_positive',
    }));
  }

  /** The reported secrets of this key that authenticate now. */
  private liveLeaks(key: ApiKeyEntity, byHash: ReadonlyMap<string, LeakedKeyReportDto>, now: Date): Leak[] {
    if (key.expiresAt && key.expiresAt.getTime() <= now.getTime()) return [];
    const leaks: Leak[] = [];
    const current = key.keyHash && byHash.get(key.keyHash.toString('hex'));
    if (current) leaks.push({ report: current, secret: 'current' });
    // After its grace period the previous secret authenticates no more: its leak endangers nothing.
    const previousLive = key.previousRetiresAt !== null && key.previousRetiresAt.getTime() > now.getTime();
    const previous = previousLive && key.previousKeyHash && byHash.get(key.previousKeyHash.toString('hex'));
    if (previous) leaks.push({ report: previous, secret: 'previous' });
    return leaks;
  }

  /**
   * As ApiKeysService.revoke: the conditional update and the audit events in one transaction, the broadcast
   * after the commit. False when the key was revoked meanwhile (by an admin or a concurrent report): that
   * revocation was recorded and broadcast already.
   */
  private async revoke(
    key: ApiKeyEntity,
    leaks: readonly Leak[],
    context: LeakedKeyReportContext,
  ): Promise<boolean> {
    const now = this.clock.now();
    const actor: Actor = {
      organizationId: key.organizationId,
      permissions: [],
      type: 'system',
      subject: LEAKED_KEY_REPORT_ACTOR,
      ip: context.ip,
      requestId: context.requestId,
    };
    const target = { type: 'api_key', id: key.id } as const;
    const changed = await this.keys.manager.transaction(async (manager) => {
      const result = await manager
        .createQueryBuilder()
        .update(ApiKeyEntity)
        .set({ revokedAt: now })
        .where('id = :id AND revoked_at IS NULL AND deleted_at IS NULL', { id: key.id })
        .execute();
      if (result.affected !== 1) return false;
      // The audit trail says where the key leaked, never the secret itself.
      for (const { report, secret } of leaks) {
        await this.audit.record(manager, actor, 'api_key.leaked', target, {
          url: storable(report.url),
          source: storable(report.source),
          type: storable(report.type),
          secret,
        });
      }
      await this.audit.record(manager, actor, 'api_key.revoked', target, { reason: 'leaked' });
      return true;
    });
    if (!changed) return false;
    await this.revocations.revoke({
      type: 'key_revoked',
      apiKeyId: key.id,
      organizationId: key.organizationId,
      revokedAt: now.toISOString(),
      reason: 'revoked',
    });
    this.logger.warn(`Revoked API key ${key.id} of organization ${key.organizationId}: reported as leaked`);
    return true;
  }
}
