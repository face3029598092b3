import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  CLOCK,
  effectiveRateLimit,
  GatehouseError,
  IpAllowlist,
  TOKEN_TYPE,
  type Clock,
  type Plan,
} from '@gatehouse/contracts';
import { constantTimeEqual, hashApiKey, parseApiKey, TokenSigner } from '@gatehouse/crypto';
import { BIND_METRICS, type GatehouseMetrics, type MetricsAware } from '@gatehouse/http';
import { ApiKeyEntity, OrganizationEntity, rateLimitOverrideOf } from '@gatehouse/persistence';
import { RevocationRegistry } from '@gatehouse/revocation';
import { ApiKeyCache, type CachedApiKey } from './api-key-cache';
import type { AccessTokenResponse } from './dto/authenticate-client.dto';
import { UsageLog } from './usage-log';
import { UsageRecorder } from './usage-recorder';

export interface AuthenticateRequest {
  apiKey: string | undefined;
  /**
   * The client_id the caller registered with the key, checked against it. Null for direct key authentication,
   * where the gateway exchanges a key sent to the API for a token and there is no client_id to compare.
   */
  clientId: string | null;
  ip: string;
  userAgent?: string;
  requestId?: string;
}

/**
 * Exchanges a long-lived API key for a short-lived access token. The hot path is one hash, one cache hit or
 * indexed read by hash, one RSA signature; nothing is written synchronously (last use and the usage log are
 * batched).
 */
@Injectable()
export class TokenIssuanceService implements MetricsAware {
  private metrics: GatehouseMetrics | undefined;

  constructor(
    @InjectRepository(ApiKeyEntity) private readonly apiKeys: Repository<ApiKeyEntity>,
    private readonly cache: ApiKeyCache,
    private readonly signer: TokenSigner,
    private readonly usage: UsageRecorder,
    private readonly usageLog: UsageLog,
    private readonly revocations: RevocationRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  [BIND_METRICS](metrics: GatehouseMetrics): void {
    this.metrics = metrics;
    void metrics.tokenIssuance; // registered now, so that the counters are exposed before the first request
  }

  async authenticate(request: AuthenticateRequest): Promise<AccessTokenResponse> {
    const tokens = this.metrics?.tokenIssuance;
    try {
      const response = await this.exchange(request);
      tokens?.issued.inc();
      tokens?.authentications.inc({ outcome: 'success' });
      return response;
    } catch (error) {
      tokens?.authentications.inc({ outcome: error instanceof GatehouseError ? error.code : 'error' });
      throw error;
    }
  }

  private async exchange(request: AuthenticateRequest): Promise<AccessTokenResponse> {
    const { apiKey, clientId, ip } = request;
    if (!apiKey) throw new GatehouseError('missing_api_key', 'Send the API key in the X-API-Key header');
    if (!parseApiKey(apiKey)) {
      throw new GatehouseError('invalid_api_key', 'API key is malformed (wrong format or checksum)');
    }
    const hash = hashApiKey(apiKey);
    // Awaited only on a miss: every promise is a microtask hop, plus the async hooks of request-scoped logging.
    const key = this.cache.get(hash) ?? (await this.findByHash(hash));
    if (!key || !constantTimeEqual(key.keyHash, hash)) {
      throw new GatehouseError('api_key_not_found', 'API key not found');
    }
    const now = this.clock.now();
    const attempt = (outcome: string) =>
      this.usageLog.append({
        apiKeyId: key.id,
        organizationId: key.organizationId,
        at: now,
        outcome,
        ip,
        userAgent: request.userAgent ?? null,
        requestId: request.requestId ?? null,
      });
    try {
      const response = await this.issue(key, clientId, ip, now);
      this.usage.record(key.id, now, ip);
      attempt('success');
      return response;
    } catch (error) {
      if (error instanceof GatehouseError) attempt(error.code);
      throw error;
    }
  }

  /** Every check of the key, synchronously (a refusal throws at once); then the signature, the one wait. */
  private issue(
    key: CachedApiKey,
    clientId: string | null,
    ip: string,
    now: Date,
  ): Promise<AccessTokenResponse> {
    if (key.revokedAt || this.revocations.isRevoked(key.id)) {
      throw new GatehouseError('api_key_revoked', 'API key has been revoked');
    }
    // The row read (or cached) before a disable committed does not know of it; the registry hears it at once.
    if (key.disabledAt || this.revocations.isDisabled(key.id)) {
      throw new GatehouseError('api_key_disabled', 'API key is disabled; an admin can enable it again');
    }
    const issuedAt = Math.floor(now.getTime() / 1000);
    // Whole-second token times again: a secret retiring within this second could only yield an expired token.
    const retired =
      (key.secretRetiresAt !== null && key.secretRetiresAt.getTime() < (issuedAt + 1) * 1000) ||
      this.revocations.isRevoked(key.id, key.keyVersion);
    if (retired) {
      throw new GatehouseError('api_key_revoked', 'This secret was replaced by a rotation; use the new one');
    }
    // Token times have whole-second precision: a key with less than a second left could only yield a token
    // that is already expired, so it counts as expired.
    if (key.expiresAt && key.expiresAt.getTime() < (issuedAt + 1) * 1000) {
      throw new GatehouseError('key_expired', 'API key has expired');
    }
    if (clientId !== null && key.clientId !== clientId) {
      throw new GatehouseError(
        'client_id_mismatch',
        'client_id does not match the one registered for this key',
      );
    }
    // Last: only a credential that is valid in every other respect learns that it is used from the wrong place.
    if (!key.allowedIps.allows(ip)) {
      throw new GatehouseError('ip_not_allowed', `This API key may not be used from ${ip}`);
    }
    // A token never outlives the key, nor the rotated-out secret, it was issued from.
    const limits = [issuedAt + ACCESS_TOKEN_TTL_SECONDS];
    if (key.expiresAt) limits.push(Math.floor(key.expiresAt.getTime() / 1000));
    if (key.secretRetiresAt) limits.push(Math.floor(key.secretRetiresAt.getTime() / 1000));
    const expiresAt = Math.min(...limits);
    return this.signer
      .sign(
        {
          org: key.organizationId,
          api_key_id: key.id,
          client_id: key.clientId,
          permissions: key.permissions,
          key_version: key.keyVersion,
          rate_limit: { requests_per_minute: key.rateLimit.requests_per_minute, burst: key.rateLimit.burst },
          // Absent when unrestricted, so that tokens of unrestricted keys stay as they were.
          ...(key.allowedIps.unrestricted ? {} : { allowed_ips: [...key.allowedIps.cidrs] }),
        },
        key.clientId,
        issuedAt,
        expiresAt,
      )
      .then((signed) => ({
        access_token: signed.token,
        token_type: TOKEN_TYPE,
        expires_in: expiresAt - issuedAt,
        client_id: key.clientId,
        api_key_id: key.id,
      }));
  }

  private async findByHash(hash: Buffer): Promise<CachedApiKey | undefined> {
    // Two partial unique indexes: the current secret, and the previous one during a rotation. The organization
    // comes along by its primary key in the same statement, for the plan that sets the key's rate limit.
    const { entities, raw } = await this.apiKeys
      .createQueryBuilder('k')
      .innerJoin(OrganizationEntity, 'o', 'o.id = k.organization_id')
      .addSelect('o.plan', 'organization_plan')
      .where('k.key_hash = :hash OR k.previous_key_hash = :hash', { hash })
      .getRawAndEntities<{ k_id: string; organization_plan: Plan }>();
    const row = entities[0];
    const plan = raw.find((columns) => columns.k_id === row?.id)?.organization_plan;
    if (!row || !plan) return undefined;
    const matchesCurrent = row.keyHash !== null && row.keyHash.equals(hash);
    const matchesPrevious = row.previousKeyHash !== null && row.previousKeyHash.equals(hash);
    if (!matchesCurrent && !matchesPrevious) return undefined;
    const key: CachedApiKey = {
      id: row.id,
      organizationId: row.organizationId,
      clientId: row.clientId,
      permissions: row.permissions,
      keyHash: matchesCurrent ? (row.keyHash as Buffer) : (row.previousKeyHash as Buffer),
      keyVersion: matchesCurrent ? row.keyVersion : row.keyVersion - 1,
      secretRetiresAt: matchesCurrent ? null : row.previousRetiresAt,
      expiresAt: row.expiresAt,
      revokedAt: row.revokedAt,
      disabledAt: row.disabledAt,
      allowedIps: IpAllowlist.of(row.allowedIps),
      rateLimit: effectiveRateLimit(plan, rateLimitOverrideOf(row)),
    };
    // Revoked and disabled keys are not cached: the row already says no, and caching it would only delay a
    // deletion or an enable.
    if (!key.revokedAt && !key.disabledAt) this.cache.set(key);
    return key;
  }
}
