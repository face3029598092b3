import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, IsNull, QueryFailedError, type EntityManager, type Repository } from 'typeorm';
import {
  CLOCK,
  decodeCursor,
  effectiveRateLimit,
  GatehouseError,
  isIpAllowed,
  missingPermissions,
  normalizeAllowedIps,
  PERMISSIONS,
  toPage,
  type Clock,
  type Page,
  type Permission,
  type Plan,
  type RateLimit,
} from '@gatehouse/contracts';
import { generateApiKey } from '@gatehouse/crypto';
import {
  ApiKeyEntity,
  ApiKeyUsageEntity,
  OrganizationEntity,
  rateLimitOverrideOf,
} from '@gatehouse/persistence';
import { RevocationRegistry } from '@gatehouse/revocation';
import type { Actor } from './actor';
import {
  API_KEY_SORT_DEFAULT,
  decodeListCursor,
  encodeListCursor,
  isListCursor,
  SORT_ORDER_DEFAULT,
  type ApiKeyListPosition,
  type ApiKeySort,
} from './api-key-list-cursor';
import {
  EXPIRING_SOON_MS,
  isRotating,
  toApiKeyView,
  type ApiKeyView,
  type CreatedApiKeyView,
} from './api-key.view';
import { AuditService } from './audit.service';
import type { CreateApiKeyDto } from './dto/create-api-key.dto';
import { API_KEY_PAGE_SIZE_DEFAULT, type ListApiKeysDto } from './dto/list-api-keys.dto';
import type { ListUsageDto } from './dto/list-usage.dto';
import { ROTATION_GRACE_DEFAULT_SECONDS, type RotateApiKeyDto } from './dto/rotate-api-key.dto';
import type { SetAllowedIpsDto } from './dto/set-allowed-ips.dto';
import type { SetRateLimitDto } from './dto/set-rate-limit.dto';
import type { UpdateApiKeyDto } from './dto/update-api-key.dto';

/** Plans whose organizations may create API keys; the others get 403 plan_not_allowed. */
export const PLANS_WITH_API_KEYS: readonly Plan[] = ['pro', 'enterprise'];

export interface ApiKeysOptions {
  /** Longest lifetime a key may be created with, in days. */
  maxLifetimeDays: number;
}

export const API_KEYS_OPTIONS = Symbol('API_KEYS_OPTIONS');

export type ApiKeyPage = Page<ApiKeyView>;

export interface BootstrapResult {
  organization: { id: string; name: string; plan: Plan; created: boolean };
  api_key: string;
  api_key_id: string;
  client_id: string;
  permissions: Permission[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UNIQUE_VIOLATION = '23505';
function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof QueryFailedError && (error.driverError as { code?: string }).code === UNIQUE_VIOLATION
  );
}

export interface UsageView {
  occurred_at: string;
  outcome: string;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

const DAY_MS = 86_400_000;

const SORT_COLUMNS: Readonly<Record<ApiKeySort, string>> = {
  created_at: 'k.created_at',
  last_used_at: 'k.last_used_at',
  name: 'k.name',
};

function sortValueOf(key: ApiKeyEntity, sort: ApiKeySort): string | null {
  switch (sort) {
    case 'created_at':
      return key.createdAt.toISOString();
    case 'last_used_at':
      return key.lastUsedAt?.toISOString() ?? null;
    case 'name':
      return key.name;
  }
}

/** The columns a PATCH sets; an empty description is no description. Refuses a body that changes nothing. */
function updatedFields(
  dto: UpdateApiKeyDto | undefined,
): Partial<Pick<ApiKeyEntity, 'name' | 'description' | 'metadata'>> {
  if (!dto || (dto.name === undefined && dto.description === undefined && dto.metadata === undefined)) {
    throw new GatehouseError(
      'validation_failed',
      'Request body must set at least one of name, description and metadata',
    );
  }
  const fields: Partial<Pick<ApiKeyEntity, 'name' | 'description' | 'metadata'>> = {};
  if (dto.name !== undefined) fields.name = dto.name;
  if (dto.description !== undefined) fields.description = dto.description || null;
  if (dto.metadata !== undefined) fields.metadata = { ...dto.metadata };
  return fields;
}

function sameMetadata(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key])
  );
}

/**
 * The rows after a page's last one, in the list's order: (value, id) past the cursor's, with the id breaking ties.
 * Times compare exactly because every time column is written from a JavaScript Date, to the millisecond, as the
 * cursor carries it. Under last_used_at the never-used keys (NULL) follow every used one, in both directions.
 */
function afterPosition(position: ApiKeyListPosition): Brackets {
  const past = position.order === 'asc' ? '>' : '<';
  const column = SORT_COLUMNS[position.sort];
  const parameters = { cursorValue: position.value, cursorId: position.id };
  return new Brackets((qb) => {
    if (position.sort !== 'last_used_at') {
      qb.where(`(${column}, k.id) ${past} (:cursorValue, :cursorId)`, parameters);
    } else if (position.value === null) {
      qb.where(`${column} IS NULL AND k.id ${past} :cursorId`, parameters);
    } else {
      qb.where(`${column} IS NULL`).orWhere(
        `(${column}, k.id) ${past} (:cursorValue, :cursorId)`,
        parameters,
      );
    }
  });
}

@Injectable()
export class ApiKeysService {
  constructor(
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
    @InjectRepository(OrganizationEntity) private readonly organizations: Repository<OrganizationEntity>,
    @InjectRepository(ApiKeyUsageEntity) private readonly usage: Repository<ApiKeyUsageEntity>,
    private readonly audit: AuditService,
    private readonly revocations: RevocationRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(API_KEYS_OPTIONS) private readonly options: ApiKeysOptions,
  ) {}

  /** Plan-gated: only pro and enterprise organizations create keys through the API. */
  async create(actor: Actor, dto: CreateApiKeyDto): Promise<CreatedApiKeyView> {
    const organization = await this.organizations.findOneByOrFail({ id: actor.organizationId });
    if (!PLANS_WITH_API_KEYS.includes(organization.plan)) {
      throw new GatehouseError(
        'plan_not_allowed',
        `API keys are available on the ${PLANS_WITH_API_KEYS.join(' and ')} plans; ` +
          `organization "${organization.name}" is on the ${organization.plan} plan`,
      );
    }
    return this.keys.manager.transaction(async (manager) => {
      await this.assertActorCurrent(manager, actor);
      return this.insertKey(manager, actor, dto, organization.plan);
    });
  }

  async list(organizationId: string, query: ListApiKeysDto): Promise<ApiKeyPage> {
    const limit = query.limit ?? API_KEY_PAGE_SIZE_DEFAULT;
    const now = this.clock.now();
    const sort = query.sort ?? API_KEY_SORT_DEFAULT;
    const order = query.order ?? SORT_ORDER_DEFAULT;
    const direction = order === 'asc' ? 'ASC' : 'DESC';
    const builder = this.keys
      .createQueryBuilder('k')
      .where('k.organization_id = :organizationId', { organizationId })
      .andWhere('k.deleted_at IS NULL')
      .take(limit + 1);
    if (sort === 'last_used_at') {
      // Keys never used come last in both directions: "most recently used" and "least recently used" alike.
      builder.orderBy(SORT_COLUMNS[sort], direction, 'NULLS LAST');
    } else {
      builder.orderBy(SORT_COLUMNS[sort], direction);
    }
    builder.addOrderBy('k.id', direction);
    if (query.q !== undefined) {
      const escaped = query.q.replace(/[\\%_]/g, (character) => `\\${character}`);
      builder.andWhere(
        new Brackets((qb) =>
          qb
            .where(`k.name ILIKE :contains ESCAPE '\\'`, { contains: `%${escaped}%` })
            .orWhere(`k.client_id ILIKE :prefix ESCAPE '\\'`, { prefix: `${escaped}%` }),
        ),
      );
    }
    if (query.environment)
      builder.andWhere('k.environment = :environment', { environment: query.environment });
    const unexpired = new Brackets((qb) =>
      qb.where('k.expires_at IS NULL').orWhere('k.expires_at > :now', { now }),
    );
    switch (query.status) {
      case 'active':
        builder
          .andWhere('k.revoked_at IS NULL')
          .andWhere('k.disabled_at IS NULL')
          .andWhere(unexpired)
          .andWhere('(k.previous_retires_at IS NULL OR k.previous_retires_at <= :now)', { now });
        break;
      case 'rotating':
        builder
          .andWhere('k.revoked_at IS NULL')
          .andWhere('k.disabled_at IS NULL')
          .andWhere(unexpired)
          .andWhere('k.previous_key_hash IS NOT NULL AND k.previous_retires_at > :now', { now });
        break;
      case 'disabled':
        builder.andWhere('k.revoked_at IS NULL').andWhere('k.disabled_at IS NOT NULL').andWhere(unexpired);
        break;
      case 'revoked':
        builder.andWhere('k.revoked_at IS NOT NULL');
        break;
      case 'expired':
        builder.andWhere('k.revoked_at IS NULL').andWhere('k.expires_at <= :now', { now });
        break;
      case 'expiring_soon':
        builder.andWhere('k.revoked_at IS NULL').andWhere('k.expires_at > :now AND k.expires_at <= :soon', {
          now,
          soon: new Date(now.getTime() + EXPIRING_SOON_MS),
        });
        break;
      case undefined:
        break;
    }
    const legacy = sort === API_KEY_SORT_DEFAULT && order === SORT_ORDER_DEFAULT;
    if (query.cursor && legacy && !isListCursor(query.cursor)) {
      // The default sort keeps the cursor format it always had: pages handed out before an upgrade still follow.
      const { at, id } = decodeCursor(query.cursor);
      builder.andWhere('(k.created_at, k.id) < (:at, :id)', { at, id });
    } else if (query.cursor) {
      builder.andWhere(afterPosition(decodeListCursor(query.cursor, sort, order)));
    }
    const [rows, plan] = await Promise.all([builder.getMany(), this.planOf(organizationId)]);
    const view = (key: ApiKeyEntity): ApiKeyView => toApiKeyView(key, now, plan);
    if (legacy) return toPage(rows, limit, view, (key) => ({ at: key.createdAt, id: key.id }));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      data: page.map(view),
      next_cursor:
        rows.length > limit && last
          ? encodeListCursor({ sort, order, value: sortValueOf(last, sort), id: last.id })
          : null,
    };
  }

  async get(organizationId: string, id: string): Promise<ApiKeyView> {
    const [key, plan] = await Promise.all([
      this.findVisible(organizationId, id),
      this.planOf(organizationId),
    ]);
    return toApiKeyView(key, this.clock.now(), plan);
  }

  /**
   * Renames a key, or changes its description or metadata: labels for people, which change nothing about what the
   * key may do, so a revoked key may be relabelled too. Still a change to the key, under the rule of every other:
   * a credential may not relabel a key stronger than itself. Fields left out keep their value; a change to what
   * the key already has changes nothing and records nothing.
   */
  async update(actor: Actor, id: string, dto: UpdateApiKeyDto | undefined): Promise<ApiKeyView> {
    const changes = updatedFields(dto);
    const plan = await this.planOf(actor.organizationId);
    const now = this.clock.now();
    return this.keys.manager.transaction(async (manager) => {
      const locked = await this.lockForChange(manager, actor, id);
      const changed: Record<string, { before: unknown; after: unknown }> = {};
      if (changes.name !== undefined && changes.name !== locked.name) {
        changed['name'] = { before: locked.name, after: changes.name };
      }
      if (changes.description !== undefined && changes.description !== locked.description) {
        changed['description'] = { before: locked.description, after: changes.description };
      }
      if (changes.metadata !== undefined && !sameMetadata(changes.metadata, locked.metadata)) {
        changed['metadata'] = { before: locked.metadata, after: changes.metadata };
      }
      if (Object.keys(changed).length === 0) return toApiKeyView(locked, now, plan);
      await manager.update(ApiKeyEntity, { id: locked.id }, changes);
      Object.assign(locked, changes);
      await this.audit.record(manager, actor, 'api_key.updated', { type: 'api_key', id: locked.id }, changed);
      return toApiKeyView(locked, now, plan);
    });
  }

  /** Immediate and final; the row stays for audit. Revoking a revoked key changes nothing. */
  async revoke(actor: Actor, id: string): Promise<ApiKeyView> {
    const plan = await this.planOf(actor.organizationId);
    const now = this.clock.now();
    const { key, changed } = await this.keys.manager.transaction(async (manager) => {
      const locked = await this.lockForChange(manager, actor, id);
      if (locked.revokedAt) return { key: locked, changed: false };
      await manager.update(ApiKeyEntity, { id: locked.id }, { revokedAt: now });
      locked.revokedAt = now;
      await this.audit.record(manager, actor, 'api_key.revoked', { type: 'api_key', id: locked.id });
      return { key: locked, changed: true };
    });
    if (changed) {
      await this.revocations.revoke({
        type: 'key_revoked',
        apiKeyId: key.id,
        organizationId: key.organizationId,
        revokedAt: now.toISOString(),
        reason: 'revoked',
      });
    }
    return toApiKeyView(key, now, plan);
  }

  /** Erases both secret hashes and hides the key from lists; its tokens die like a revoked key's. */
  async delete(actor: Actor, id: string): Promise<void> {
    const now = this.clock.now();
    const { key, revokedAt } = await this.keys.manager.transaction(async (manager) => {
      const locked = await this.lockForChange(manager, actor, id);
      const revokedAt = locked.revokedAt ?? now;
      await manager.update(
        ApiKeyEntity,
        { id: locked.id },
        { deletedAt: now, revokedAt, keyHash: null, previousKeyHash: null },
      );
      await this.audit.record(manager, actor, 'api_key.deleted', { type: 'api_key', id: locked.id });
      return { key: locked, revokedAt };
    });
    await this.revocations.revoke({
      type: 'key_revoked',
      apiKeyId: key.id,
      organizationId: key.organizationId,
      revokedAt: revokedAt.toISOString(),
      reason: 'deleted',
    });
  }

  /**
   * Step one of a rotation: a new secret (returned once) for the same key, while the previous secret keeps
   * working until the grace period ends. The key keeps its name, client_id, permissions and lifetime.
   */
  async rotate(actor: Actor, id: string, dto: RotateApiKeyDto): Promise<CreatedApiKeyView> {
    const plan = await this.planOf(actor.organizationId);
    const now = this.clock.now();
    const graceSeconds = dto.grace_period_seconds ?? ROTATION_GRACE_DEFAULT_SECONDS;
    const retiresAt = new Date(now.getTime() + graceSeconds * 1000);
    const { key, secret } = await this.keys.manager.transaction(async (manager) => {
      // Judged on the row locked until commit: two rotations, or a rotation and a finish, of one key run one after
      // the other, and the second sees what the first did (a rotation in progress, a new key_version).
      const locked = await this.lockForChange(manager, actor, id);
      if (locked.revokedAt) throw new GatehouseError('conflict', 'A revoked key cannot be rotated');
      // Rotating would give an expired secret a new grace period; an expired key is replaced, not rotated.
      if (locked.expiresAt && locked.expiresAt.getTime() <= now.getTime()) {
        throw new GatehouseError('conflict', 'An expired key cannot be rotated; create a new key');
      }
      if (isRotating(locked, now)) {
        throw new GatehouseError('conflict', 'This key is already rotating; finish that rotation first');
      }
      const generated = generateApiKey(locked.environment);
      // The expiry policy travels with the key: a key made to live 90 days lives 90 days from each rotation.
      const lifetimeStart = locked.rotatedAt ?? locked.createdAt;
      const expiresAt = locked.expiresAt
        ? new Date(
            now.getTime() +
              Math.min(
                locked.expiresAt.getTime() - lifetimeStart.getTime(),
                this.options.maxLifetimeDays * DAY_MS,
              ),
          )
        : null;
      const changes: Partial<ApiKeyEntity> = {
        keyHash: generated.hash,
        keyLast4: generated.last4,
        keyVersion: locked.keyVersion + 1,
        // Kept after the grace period too, so that the old secret is answered "replaced by a rotation" (401)
        // rather than "not found" until the next rotation overwrites it.
        previousKeyHash: locked.keyHash,
        previousKeyLast4: locked.keyLast4,
        previousRetiresAt: retiresAt,
        rotatedAt: now,
        expiresAt,
      };
      await manager.update(ApiKeyEntity, { id: locked.id }, changes);
      await this.audit.record(
        manager,
        actor,
        'api_key.rotated',
        { type: 'api_key', id: locked.id },
        {
          key_version: changes.keyVersion,
          grace_period_seconds: graceSeconds,
          previous_retires_at: retiresAt.toISOString(),
        },
      );
      Object.assign(locked, changes);
      return { key: locked, secret: generated.secret };
    });
    await this.revocations.revoke({
      type: 'secret_retired',
      apiKeyId: key.id,
      organizationId: key.organizationId,
      currentVersion: key.keyVersion,
      retiredAt: retiresAt.toISOString(),
    });
    return { ...toApiKeyView(key, now, plan), api_key: secret };
  }

  /** Step two: the previous secret, and every token issued from it, stop working now. */
  async finishRotation(actor: Actor, id: string): Promise<ApiKeyView> {
    const plan = await this.planOf(actor.organizationId);
    const now = this.clock.now();
    const changes: Partial<ApiKeyEntity> = { previousRetiresAt: now };
    const key = await this.keys.manager.transaction(async (manager) => {
      const locked = await this.lockForChange(manager, actor, id);
      if (locked.revokedAt || !isRotating(locked, now)) {
        throw new GatehouseError('conflict', 'This key has no rotation in progress');
      }
      await manager.update(ApiKeyEntity, { id: locked.id }, changes);
      await this.audit.record(
        manager,
        actor,
        'api_key.rotation_finished',
        { type: 'api_key', id: locked.id },
        {
          key_version: locked.keyVersion,
        },
      );
      return Object.assign(locked, changes);
    });
    await this.revocations.revoke({
      type: 'secret_retired',
      apiKeyId: key.id,
      organizationId: key.organizationId,
      currentVersion: key.keyVersion,
      retiredAt: now.toISOString(),
    });
    return toApiKeyView(key, now, plan);
  }

  /**
   * Overrides the organization plan's rate limit for one key. The gateway hears of it through the broadcast, and
   * every token issued from now on carries it. Setting the limit the key already has changes nothing.
   */
  async setRateLimit(actor: Actor, id: string, dto: SetRateLimitDto): Promise<ApiKeyView> {
    return this.changeRateLimit(actor, id, {
      requests_per_minute: dto.requests_per_minute,
      burst: dto.burst,
    });
  }

  /** Drops the key's override: it runs under its organization plan's limit again. */
  async clearRateLimit(actor: Actor, id: string): Promise<ApiKeyView> {
    return this.changeRateLimit(actor, id, null);
  }

  /**
   * Reversible, unlike a revocation: the key cannot authenticate and its tokens are refused on every node (a
   * `key_disabled` broadcast, and the reconcile for nodes that miss it). Disabling a disabled key changes nothing.
   */
  async disable(actor: Actor, id: string): Promise<ApiKeyView> {
    return this.changeEnabled(actor, id, false);
  }

  /** Lifts a disable: the key and its unexpired tokens work again. Enabling an enabled key changes nothing. */
  async enable(actor: Actor, id: string): Promise<ApiKeyView> {
    return this.changeEnabled(actor, id, true);
  }

  /**
   * Replaces the key's IP allowlist (empty: unrestricted). Authenticate and direct key use check it at once (the
   * broadcast drops auth-service's cached copy); tokens already issued keep the list they carry until they expire.
   * Setting the list the key already has changes nothing.
   */
  async setAllowedIps(actor: Actor, id: string, dto: SetAllowedIpsDto): Promise<ApiKeyView> {
    const after = this.normalizedAllowedIps(dto.allowed_ips);
    const plan = await this.planOf(actor.organizationId);
    const now = this.clock.now();
    const { key, changed } = await this.keys.manager.transaction(async (manager) => {
      const locked = await this.lockForChange(manager, actor, id);
      if (locked.revokedAt) {
        throw new GatehouseError('conflict', 'A revoked key cannot have its allowed IPs changed');
      }
      const before = locked.allowedIps;
      if (before.length === after.length && before.every((cidr, index) => cidr === after[index])) {
        return { key: locked, changed: false };
      }
      await manager.update(ApiKeyEntity, { id: locked.id }, { allowedIps: after });
      locked.allowedIps = after;
      await this.audit.record(
        manager,
        actor,
        'api_key.allowed_ips_changed',
        { type: 'api_key', id: locked.id },
        { before, after },
      );
      return { key: locked, changed: true };
    });
    if (changed) {
      await this.revocations.revoke({
        type: 'allowed_ips_changed',
        apiKeyId: key.id,
        organizationId: key.organizationId,
        changedAt: now.toISOString(),
      });
    }
    return toApiKeyView(key, now, plan);
  }

  /** Authentication attempts with this key, newest first. */
  async listUsage(organizationId: string, id: string, query: ListUsageDto): Promise<Page<UsageView>> {
    const key = await this.findVisible(organizationId, id);
    const limit = query.limit ?? 50;
    const builder = this.usage
      .createQueryBuilder('u')
      .where('u.api_key_id = :id', { id: key.id })
      .orderBy('u.occurred_at', 'DESC')
      .addOrderBy('u.id', 'DESC')
      .take(limit + 1);
    if (query.outcome) builder.andWhere('u.outcome = :outcome', { outcome: query.outcome });
    if (query.cursor) {
      const { at, id: rowId } = decodeCursor(query.cursor, /^\d{1,19}$/);
      builder.andWhere('(u.occurred_at, u.id) < (:at, :rowId)', { at, rowId });
    }
    const rows = await builder.getMany();
    return toPage(
      rows,
      limit,
      (row): UsageView => ({
        occurred_at: row.occurredAt.toISOString(),
        outcome: row.outcome,
        ip: row.ip,
        user_agent: row.userAgent,
        request_id: row.requestId,
      }),
      (row) => ({ at: row.occurredAt, id: row.id }),
    );
  }

  /**
   * Creates the organization if needed and its owner key, holding every permission of the catalog. Refuses when
   * the organization already has an owner key: its secret was shown once and is not reissued. Works on every
   * plan: the operator's key is how an organization is administered at all.
   */
  async bootstrap(name: string, plan: Plan): Promise<BootstrapResult> {
    const clientId = `${name}-owner`;
    return this.keys.manager.transaction(async (manager) => {
      // ON CONFLICT makes two bootstraps of the same new name race safely: one creates, both then read it.
      const inserted = await manager.query<{ id: string }[]>(
        `INSERT INTO organizations (id, name, plan, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING RETURNING id`,
        [randomUUID(), name, plan, this.clock.now()],
      );
      const created = inserted.length === 1;
      const organization = await manager.findOneOrFail(OrganizationEntity, { where: { name } });
      const existing = await manager.findOne(ApiKeyEntity, {
        where: { organizationId: organization.id, clientId, deletedAt: IsNull() },
      });
      if (existing) {
        throw new GatehouseError(
          'conflict',
          `Organization "${name}" already has an owner key (${existing.id}); ` +
            'delete it through admin-api to bootstrap a new one',
        );
      }
      if (organization.plan !== plan) {
        await manager.update(OrganizationEntity, { id: organization.id }, { plan });
        organization.plan = plan;
      }
      const actor: Actor = {
        organizationId: organization.id,
        permissions: PERMISSIONS,
        type: 'system',
        subject: 'system:bootstrap',
        ip: null,
        requestId: null,
      };
      await this.audit.record(
        manager,
        actor,
        'organization.bootstrapped',
        {
          type: 'organization',
          id: organization.id,
        },
        { plan, created },
      );
      const key = await this.insertKey(
        manager,
        actor,
        { name: 'Owner key', client_id: clientId, permissions: [...PERMISSIONS], environment: 'live' },
        organization.plan,
      );
      return {
        organization: { id: organization.id, name: organization.name, plan: organization.plan, created },
        api_key: key.api_key,
        api_key_id: key.id,
        client_id: key.client_id,
        permissions: key.permissions,
      };
    });
  }

  private async insertKey(
    manager: EntityManager,
    actor: Actor,
    dto: CreateApiKeyDto,
    plan: Plan,
  ): Promise<CreatedApiKeyView> {
    const missing = missingPermissions(actor.permissions, dto.permissions);
    if (missing.length > 0) {
      throw new GatehouseError(
        'forbidden',
        `A key cannot be given permissions its creator lacks: ${missing.join(', ')}`,
      );
    }
    const allowedIps = this.normalizedAllowedIps(dto.allowed_ips ?? []);
    const now = this.clock.now();
    const expiresAt = this.checkExpiry(dto.expires_at, now);
    const generated = generateApiKey(dto.environment ?? 'live');
    const entity = manager.create(ApiKeyEntity, {
      id: randomUUID(),
      organizationId: actor.organizationId,
      name: dto.name,
      clientId: dto.client_id,
      permissions: PERMISSIONS.filter((permission) => dto.permissions.includes(permission)),
      environment: generated.environment,
      keyHash: generated.hash,
      keyPrefix: generated.prefix,
      keyLast4: generated.last4,
      createdBy: actor.subject,
      createdAt: now,
      expiresAt,
      revokedAt: null,
      deletedAt: null,
      lastUsedAt: null,
      lastUsedIp: null,
      keyVersion: 1,
      previousKeyHash: null,
      previousKeyLast4: null,
      previousRetiresAt: null,
      rotatedAt: null,
      rateLimitPerMinute: null,
      rateLimitBurst: null,
      disabledAt: null,
      allowedIps,
      // As PATCH stores them: an empty description is none.
      description: dto.description || null,
      metadata: { ...(dto.metadata ?? {}) },
    });
    try {
      await manager.insert(ApiKeyEntity, entity);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new GatehouseError(
          'conflict',
          `client_id "${dto.client_id}" is already used in this organization`,
        );
      }
      throw error;
    }
    await this.audit.record(
      manager,
      actor,
      'api_key.created',
      { type: 'api_key', id: entity.id },
      {
        name: entity.name,
        client_id: entity.clientId,
        permissions: entity.permissions,
        environment: entity.environment,
        expires_at: entity.expiresAt?.toISOString() ?? null,
        allowed_ips: entity.allowedIps,
        description: entity.description,
        metadata: entity.metadata,
      },
    );
    return { ...toApiKeyView(entity, now, plan), api_key: generated.secret };
  }

  /**
   * Every change to an existing key starts here: the key read FOR UPDATE (locked until commit, so that concurrent
   * changes of one key are judged one after the other), then the caller's own key, then its permissions.
   */
  private async lockForChange(manager: EntityManager, actor: Actor, id: string): Promise<ApiKeyEntity> {
    const locked = await this.findVisible(actor.organizationId, id, manager);
    await this.assertActorCurrent(manager, actor, locked);
    this.assertMayManage(actor, locked);
    return locked;
  }

  /**
   * The rule for every change made with a key's token (creating keys included), read from the caller's key row as
   * it is now: the token must come from the key's current secret, and be used from an address the key's current
   * allowlist admits. A secret a rotation is retiring still authenticates during the grace period, so that
   * pipelines can switch over, but whoever holds it must not rotate the key again, finish the rotation, lift an
   * allowlist or mint keys: that would hand a leaked old secret the key. And a token keeps the allowlist it was
   * issued with, so a token minted before a restriction must not lift it or act from outside it. `locked` is the
   * row being changed, already locked: when it is the caller's own key, that row is the one judged.
   */
  private async assertActorCurrent(
    manager: EntityManager,
    actor: Actor,
    locked?: ApiKeyEntity,
  ): Promise<void> {
    if (actor.type !== 'api_key') return;
    const own =
      locked?.id === actor.apiKeyId
        ? locked
        : UUID.test(actor.apiKeyId)
          ? await manager.findOne(ApiKeyEntity, {
              where: { id: actor.apiKeyId, organizationId: actor.organizationId },
              // FOR SHARE until commit: a revoke, disable or rotation of the caller's key waits for this change,
              // and this change for it, so none is judged on a row another is changing.
              lock: { mode: 'pessimistic_read' },
            })
          : null;
    // The token guard refuses these already; this closes the moment before a revocation broadcast arrives.
    if (!own || own.deletedAt || own.revokedAt) {
      throw new GatehouseError('token_revoked', 'The API key behind this token has been revoked or rotated');
    }
    if (own.disabledAt) throw new GatehouseError('api_key_disabled', "This token's API key is disabled");
    if (actor.keyVersion !== own.keyVersion) {
      throw new GatehouseError(
        'forbidden',
        'A secret being retired by a rotation cannot create or change keys; use the new secret',
      );
    }
    if (!isIpAllowed(own.allowedIps, actor.ip ?? '')) {
      throw new GatehouseError(
        'ip_not_allowed',
        `This token's API key may not be used from ${actor.ip ?? 'an unknown address'}`,
      );
    }
  }

  /**
   * The rule for every change to an existing key: the caller holds every permission the key holds. Otherwise a
   * weaker credential could take over a stronger one (rotating it hands over its new secret) or switch it off.
   */
  private assertMayManage(actor: Actor, key: ApiKeyEntity): void {
    const missing = missingPermissions(actor.permissions, key.permissions);
    if (missing.length > 0) {
      throw new GatehouseError(
        'forbidden',
        `Changing this key requires every permission it holds; the caller lacks ${missing.join(', ')}`,
      );
    }
  }

  private normalizedAllowedIps(entries: readonly string[]): string[] {
    const normalized = normalizeAllowedIps(entries);
    if (!normalized.ok) {
      throw new GatehouseError(
        'validation_failed',
        'each entry of allowed_ips must be an IPv4 or IPv6 address or CIDR',
      );
    }
    return normalized.cidrs;
  }

  private async changeEnabled(actor: Actor, id: string, enabled: boolean): Promise<ApiKeyView> {
    const plan = await this.planOf(actor.organizationId);
    const now = this.clock.now();
    const { key, changed } = await this.keys.manager.transaction(async (manager) => {
      const locked = await this.lockForChange(manager, actor, id);
      if (locked.revokedAt) {
        throw new GatehouseError('conflict', `A revoked key cannot be ${enabled ? 'enabled' : 'disabled'}`);
      }
      if ((locked.disabledAt === null) === enabled) return { key: locked, changed: false };
      const changes: Pick<ApiKeyEntity, 'disabledAt'> = { disabledAt: enabled ? null : now };
      await manager.update(ApiKeyEntity, { id: locked.id }, changes);
      Object.assign(locked, changes);
      await this.audit.record(manager, actor, enabled ? 'api_key.enabled' : 'api_key.disabled', {
        type: 'api_key',
        id: locked.id,
      });
      return { key: locked, changed: true };
    });
    if (changed) {
      // After the commit, as for revocations; the reconcile repairs a node that misses it, in both directions.
      await this.revocations.revoke({
        type: enabled ? 'key_enabled' : 'key_disabled',
        apiKeyId: key.id,
        organizationId: key.organizationId,
        changedAt: this.revocations.nextKeyStateChangeAt(key.id, now).toISOString(),
      });
    }
    return toApiKeyView(key, now, plan);
  }

  private async changeRateLimit(actor: Actor, id: string, override: RateLimit | null): Promise<ApiKeyView> {
    const plan = await this.planOf(actor.organizationId);
    const now = this.clock.now();
    const changes: Pick<ApiKeyEntity, 'rateLimitPerMinute' | 'rateLimitBurst'> = {
      rateLimitPerMinute: override?.requests_per_minute ?? null,
      rateLimitBurst: override?.burst ?? null,
    };
    const { key, changed } = await this.keys.manager.transaction(async (manager) => {
      // Locked until commit, so that the audit row's "before" is the limit this change replaced even when two
      // admins change the same key at once.
      const locked = await this.lockForChange(manager, actor, id);
      if (locked.revokedAt) {
        throw new GatehouseError('conflict', 'A revoked key cannot have its rate limit changed');
      }
      if (
        locked.rateLimitPerMinute === changes.rateLimitPerMinute &&
        locked.rateLimitBurst === changes.rateLimitBurst
      ) {
        return { key: locked, changed: false };
      }
      const before = effectiveRateLimit(plan, rateLimitOverrideOf(locked));
      await manager.update(ApiKeyEntity, { id: locked.id }, changes);
      Object.assign(locked, changes);
      await this.audit.record(
        manager,
        actor,
        override ? 'api_key.rate_limit_set' : 'api_key.rate_limit_cleared',
        { type: 'api_key', id: locked.id },
        { before, after: effectiveRateLimit(plan, override) },
      );
      return { key: locked, changed: true };
    });
    const view = toApiKeyView(key, now, plan);
    if (changed) {
      // After the commit, as for revocations: nobody hears of a limit that might still roll back.
      await this.revocations.publishRateLimitChange({
        type: 'rate_limit_changed',
        apiKeyId: key.id,
        organizationId: key.organizationId,
        requestsPerMinute: view.rate_limit.requests_per_minute,
        burst: view.rate_limit.burst,
        source: view.rate_limit.source,
        changedAt: now.toISOString(),
      });
    }
    return view;
  }

  /** Keys without an override run under their organization plan's limit, which every key view shows. */
  private async planOf(organizationId: string): Promise<Plan> {
    const organization = await this.organizations.findOneOrFail({
      select: { id: true, plan: true },
      where: { id: organizationId },
    });
    return organization.plan;
  }

  private checkExpiry(expiresAt: string | undefined, now: Date): Date | null {
    if (expiresAt === undefined) return null;
    const date = new Date(expiresAt);
    if (date.getTime() <= now.getTime()) {
      throw new GatehouseError('validation_failed', 'expires_at must be in the future');
    }
    if (date.getTime() - now.getTime() > this.options.maxLifetimeDays * DAY_MS) {
      throw new GatehouseError(
        'validation_failed',
        `expires_at may be at most ${this.options.maxLifetimeDays} days ahead`,
      );
    }
    return date;
  }

  /**
   * Another organization's key, a deleted key and a malformed id all answer the same 404. Given a transaction's
   * manager, the row is read FOR UPDATE in it.
   */
  private async findVisible(
    organizationId: string,
    id: string,
    lockIn?: EntityManager,
  ): Promise<ApiKeyEntity> {
    let key: ApiKeyEntity | null = null;
    if (UUID.test(id)) {
      key = lockIn
        ? await lockIn.findOne(ApiKeyEntity, {
            where: { id, organizationId },
            lock: { mode: 'pessimistic_write' },
          })
        : await this.keys.findOne({ where: { id, organizationId } });
    }
    if (!key || key.deletedAt) throw new GatehouseError('not_found', 'API key not found');
    return key;
  }
}
