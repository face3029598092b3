import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, IsNull, QueryFailedError, type Repository } from 'typeorm';
import {
  CLOCK,
  GatehouseError,
  missingPermissions,
  PERMISSIONS,
  type Clock,
  type Permission,
  type Principal,
} from '@gatehouse/contracts';
import { generateApiKey } from '@gatehouse/crypto';
import { ApiKeyEntity, OrganizationEntity, type Plan } from '@gatehouse/persistence';
import { RevocationRegistry } from '@gatehouse/revocation';
import { toApiKeyView, type ApiKeyView, type CreatedApiKeyView } from './api-key.view';
import type { CreateApiKeyDto } from './dto/create-api-key.dto';
import { API_KEY_PAGE_SIZE_DEFAULT, type ListApiKeysDto } from './dto/list-api-keys.dto';

export interface ApiKeysOptions {
  /** Longest lifetime a key may be created with, in days. */
  maxLifetimeDays: number;
}

export const API_KEYS_OPTIONS = Symbol('API_KEYS_OPTIONS');

/** Whoever acts on keys: the organization is always taken from here, never from the request body. */
export interface Actor {
  organizationId: string;
  permissions: readonly Permission[];
  subject: string;
}

export interface ApiKeyPage {
  data: ApiKeyView[];
  next_cursor: string | null;
}

export interface BootstrapResult {
  organization: { id: string; name: string; plan: Plan; created: boolean };
  api_key: string;
  api_key_id: string;
  client_id: string;
  permissions: Permission[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UNIQUE_VIOLATION = '23505';
const DAY_MS = 86_400_000;

interface Cursor {
  createdAt: string;
  id: string;
}

function encodeCursor(key: ApiKeyEntity): string {
  return Buffer.from(JSON.stringify({ createdAt: key.createdAt.toISOString(), id: key.id })).toString(
    'base64url',
  );
}

function decodeCursor(cursor: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (typeof value.createdAt === 'string' && typeof value.id === 'string' && UUID.test(value.id)) {
      if (!Number.isNaN(Date.parse(value.createdAt))) return { createdAt: value.createdAt, id: value.id };
    }
  } catch {
    // Falls through to the error below: a cursor is opaque to clients, so any damage is the same mistake.
  }
  throw new GatehouseError('validation_failed', 'cursor is invalid; pass next_cursor from a previous page');
}

function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof QueryFailedError && (error.driverError as { code?: string }).code === UNIQUE_VIOLATION
  );
}

@Injectable()
export class ApiKeysService {
  constructor(
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
    @InjectRepository(OrganizationEntity) private readonly organizations: Repository<OrganizationEntity>,
    private readonly revocations: RevocationRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(API_KEYS_OPTIONS) private readonly options: ApiKeysOptions,
  ) {}

  async create(actor: Actor, dto: CreateApiKeyDto): Promise<CreatedApiKeyView> {
    const missing = missingPermissions(actor.permissions, dto.permissions);
    if (missing.length > 0) {
      throw new GatehouseError(
        'forbidden',
        `A key cannot be given permissions its creator lacks: ${missing.join(', ')}`,
      );
    }
    const now = this.clock.now();
    const expiresAt = this.checkExpiry(dto.expires_at, now);
    const generated = generateApiKey(dto.environment ?? 'live');
    const entity = this.keys.create({
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
    });
    try {
      await this.keys.insert(entity);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new GatehouseError(
          'conflict',
          `client_id "${dto.client_id}" is already used in this organization`,
        );
      }
      throw error;
    }
    return { ...toApiKeyView(entity, now), api_key: generated.secret };
  }

  async list(organizationId: string, query: ListApiKeysDto): Promise<ApiKeyPage> {
    const limit = query.limit ?? API_KEY_PAGE_SIZE_DEFAULT;
    const now = this.clock.now();
    const builder = this.keys
      .createQueryBuilder('k')
      .where('k.organization_id = :organizationId', { organizationId })
      .andWhere('k.deleted_at IS NULL')
      .orderBy('k.created_at', 'DESC')
      .addOrderBy('k.id', 'DESC')
      .take(limit + 1);
    if (query.environment)
      builder.andWhere('k.environment = :environment', { environment: query.environment });
    switch (query.status) {
      case 'active':
        builder
          .andWhere('k.revoked_at IS NULL')
          .andWhere(
            new Brackets((qb) => qb.where('k.expires_at IS NULL').orWhere('k.expires_at > :now', { now })),
          );
        break;
      case 'revoked':
        builder.andWhere('k.revoked_at IS NOT NULL');
        break;
      case 'expired':
        builder.andWhere('k.revoked_at IS NULL').andWhere('k.expires_at <= :now', { now });
        break;
      case undefined:
        break;
    }
    if (query.cursor) {
      const cursor = decodeCursor(query.cursor);
      builder.andWhere('(k.created_at, k.id) < (:cursorCreatedAt, :cursorId)', {
        cursorCreatedAt: cursor.createdAt,
        cursorId: cursor.id,
      });
    }
    const rows = await builder.getMany();
    const page = rows.slice(0, limit);
    return {
      data: page.map((key) => toApiKeyView(key, now)),
      next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]) : null,
    };
  }

  async get(organizationId: string, id: string): Promise<ApiKeyView> {
    return toApiKeyView(await this.findVisible(organizationId, id), this.clock.now());
  }

  /** Immediate and final; the row stays for audit. Revoking a revoked key is a no-op. */
  async revoke(actor: Actor, id: string): Promise<ApiKeyView> {
    const key = await this.findVisible(actor.organizationId, id);
    const now = this.clock.now();
    if (!key.revokedAt) {
      await this.keys
        .createQueryBuilder()
        .update(ApiKeyEntity)
        .set({ revokedAt: now })
        .where('id = :id AND revoked_at IS NULL', { id: key.id })
        .execute();
      key.revokedAt = now;
      await this.revocations.revoke({
        type: 'key_revoked',
        apiKeyId: key.id,
        organizationId: key.organizationId,
        revokedAt: now.toISOString(),
        reason: 'revoked',
      });
    }
    return toApiKeyView(key, now);
  }

  /** Erases the secret hash and hides the key from lists; its tokens die like a revoked key's. */
  async delete(actor: Actor, id: string): Promise<void> {
    const key = await this.findVisible(actor.organizationId, id);
    const now = this.clock.now();
    const revokedAt = key.revokedAt ?? now;
    await this.keys.update({ id: key.id }, { deletedAt: now, revokedAt, keyHash: null });
    await this.revocations.revoke({
      type: 'key_revoked',
      apiKeyId: key.id,
      organizationId: key.organizationId,
      revokedAt: revokedAt.toISOString(),
      reason: 'deleted',
    });
  }

  /**
   * Creates the organization if needed and its owner key, holding every permission of the catalog. Refuses when
   * the organization already has an active owner key: the secret of that one was shown once and is not reissued.
   */
  async bootstrap(name: string, plan: Plan): Promise<BootstrapResult> {
    const clientId = `${name}-owner`;
    // ON CONFLICT makes two bootstraps of the same new name race safely: one creates, both then read it.
    const inserted = await this.organizations.query<{ id: string }[]>(
      `INSERT INTO organizations (id, name, plan, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO NOTHING RETURNING id`,
      [randomUUID(), name, plan, this.clock.now()],
    );
    const created = inserted.length === 1;
    const organization = await this.organizations.findOneOrFail({ where: { name } });
    const existing = await this.keys.findOne({
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
      await this.organizations.update({ id: organization.id }, { plan });
      organization.plan = plan;
    }
    const key = await this.create(
      { organizationId: organization.id, permissions: PERMISSIONS, subject: 'bootstrap' },
      { name: 'Owner key', client_id: clientId, permissions: [...PERMISSIONS], environment: 'live' },
    );
    return {
      organization: { id: organization.id, name: organization.name, plan: organization.plan, created },
      api_key: key.api_key,
      api_key_id: key.id,
      client_id: key.client_id,
      permissions: key.permissions,
    };
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

  /** Another organization's key, a deleted key and a malformed id all answer the same 404. */
  private async findVisible(organizationId: string, id: string): Promise<ApiKeyEntity> {
    const key = UUID.test(id) ? await this.keys.findOne({ where: { id, organizationId } }) : null;
    if (!key || key.deletedAt) throw new GatehouseError('not_found', 'API key not found');
    return key;
  }
}

/** The acting credential as recorded in `created_by` and the audit trail. */
export function actorOf(principal: Principal): Actor {
  return {
    organizationId: principal.organizationId,
    permissions: principal.permissions,
    subject: `api_key:${principal.apiKeyId}`,
  };
}
