import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProperty,
  ApiSchema,
  ApiTags,
} from '@nestjs/swagger';
import {
  API_KEY_STATUSES,
  ApiKeysService,
  CreateApiKeyDto,
  CurrentActor,
  ListApiKeysDto,
  ListUsageDto,
  RotateApiKeyDto,
  SetAllowedIpsDto,
  SetRateLimitDto,
  UpdateApiKeyDto,
  API_KEY_DESCRIPTION_MAX,
  API_KEY_METADATA_ENTRIES_MAX,
  API_KEY_METADATA_VALUE_MAX,
  type Actor,
  type ApiKeyPage,
  type ApiKeyState,
  type ApiKeyStatus,
  type ApiKeyView,
  type CreatedApiKeyView,
  type ExpiryStatus,
  type UsageView,
} from '@gatehouse/api-keys';
import { Authorize } from '@gatehouse/auth';
import {
  PERMISSIONS,
  RATE_LIMIT_BURST_MAX,
  RATE_LIMIT_BURST_MIN,
  RATE_LIMIT_REQUESTS_PER_MINUTE_MAX,
  RATE_LIMIT_REQUESTS_PER_MINUTE_MIN,
  RATE_LIMIT_SOURCES,
  type EffectiveRateLimit,
  type Permission,
  type RateLimitSource,
} from '@gatehouse/contracts';
import { API_KEY_ENVIRONMENTS } from '@gatehouse/crypto';
import { ApiErrors, BEARER_AUTH, BEARER_ERRORS, JSON_BODY_ERRORS } from '@gatehouse/http';

const DATE_TIME = { type: 'string', format: 'date-time' } as const;

/** Every route that changes an existing key says so: the rule that keeps a weaker credential from taking one over. */
const MANAGE_RULE =
  'Needs write:keys, and the caller must hold every permission of the key (else 403 forbidden).';
const NULLABLE_DATE_TIME = { ...DATE_TIME, nullable: true } as const;

@ApiSchema({ name: 'ApiKeyRotation', description: 'A rotation in progress: the previous secret still works' })
class ApiKeyRotationSchema {
  @ApiProperty({ description: 'Masked previous secret', example: 'gth_live_…Qx7a' })
  previous_preview!: string;

  @ApiProperty({ ...DATE_TIME, description: 'When the previous secret stops working' })
  previous_retires_at!: string;

  @ApiProperty(DATE_TIME)
  rotated_at!: string;
}

@ApiSchema({
  name: 'ApiKeyRateLimit',
  description: "What the gateway allows this key: its override if set, else its organization plan's limit",
})
class ApiKeyRateLimitSchema implements EffectiveRateLimit {
  @ApiProperty({
    type: 'integer',
    minimum: RATE_LIMIT_REQUESTS_PER_MINUTE_MIN,
    maximum: RATE_LIMIT_REQUESTS_PER_MINUTE_MAX,
    example: 300,
  })
  requests_per_minute!: number;

  @ApiProperty({
    type: 'integer',
    minimum: RATE_LIMIT_BURST_MIN,
    maximum: RATE_LIMIT_BURST_MAX,
    description: 'Requests allowed at once on top of the sustained rate',
    example: 50,
  })
  burst!: number;

  @ApiProperty({
    enum: RATE_LIMIT_SOURCES,
    description:
      "plan: the organization plan's limit (starter 60/10, pro 300/50, enterprise 1000/100); override: set on the key",
  })
  source!: RateLimitSource;
}

@ApiSchema({ name: 'ApiKey', description: 'A key as the API shows it: never a secret, never a hash' })
class ApiKeySchema implements ApiKeyView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'CI pipeline (main)' })
  name!: string;

  @ApiProperty({ example: 'ci-pipeline' })
  client_id!: string;

  @ApiProperty({
    description: 'Masked secret: its prefix and last four characters',
    example: 'gth_live_…b3Zk',
  })
  preview!: string;

  @ApiProperty({ enum: PERMISSIONS, isArray: true, example: ['write:findings'] })
  permissions!: Permission[];

  @ApiProperty({ enum: API_KEY_ENVIRONMENTS })
  environment!: 'live' | 'test';

  @ApiProperty({
    // Every status but expiring_soon, which is a filter of the list and not a status of its own.
    enum: API_KEY_STATUSES.filter((status) => status !== 'expiring_soon'),
    description: 'One word for lists: revoked, else expired, else disabled, else rotating, else active',
  })
  status!: ApiKeyStatus;

  @ApiProperty({ enum: ['active', 'rotating', 'disabled', 'revoked'] })
  state!: ApiKeyState;

  @ApiProperty({ enum: ['active', 'expiring_soon', 'expired'], description: 'Expiring soon: within 7 days' })
  expiry_status!: ExpiryStatus;

  @ApiProperty({ type: 'integer', minimum: 1, description: 'Goes up by one at every rotation' })
  key_version!: number;

  @ApiProperty({ type: () => ApiKeyRotationSchema, nullable: true })
  rotation!: ApiKeyRotationSchema | null;

  @ApiProperty(DATE_TIME)
  created_at!: string;

  @ApiProperty({ description: 'user:<id>, api_key:<id> or system:<what>', example: 'user:auth0|5f7c' })
  created_by!: string;

  @ApiProperty(NULLABLE_DATE_TIME)
  expires_at!: string | null;

  @ApiProperty(NULLABLE_DATE_TIME)
  revoked_at!: string | null;

  @ApiProperty({
    description: 'False while the key is disabled: it cannot authenticate and its tokens are refused',
  })
  enabled!: boolean;

  @ApiProperty({ ...NULLABLE_DATE_TIME, description: 'When the key was disabled; null while enabled' })
  disabled_at!: string | null;

  @ApiProperty({
    type: 'string',
    isArray: true,
    description: 'Normalized CIDRs the key may be used from; empty when unrestricted',
    example: ['203.0.113.0/24', '2001:db8::/32'],
  })
  allowed_ips!: string[];

  @ApiProperty({ ...NULLABLE_DATE_TIME, description: 'Last successful authentication (recorded in batches)' })
  last_used_at!: string | null;

  @ApiProperty({ type: 'string', nullable: true, example: '203.0.113.7' })
  last_used_ip!: string | null;

  @ApiProperty({ type: () => ApiKeyRateLimitSchema })
  rate_limit!: ApiKeyRateLimitSchema;

  @ApiProperty({
    type: 'string',
    nullable: true,
    maxLength: API_KEY_DESCRIPTION_MAX,
    description: 'Free text for people; null when none',
  })
  description!: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: API_KEY_METADATA_VALUE_MAX },
    maxProperties: API_KEY_METADATA_ENTRIES_MAX,
    description: 'A flat object of string values; empty when none',
    example: { team: 'platform' },
  })
  metadata!: Record<string, string>;
}

@ApiSchema({
  name: 'CreatedApiKey',
  description: 'A key with its secret, returned only when it is created or rotated',
})
class CreatedApiKeySchema extends ApiKeySchema implements CreatedApiKeyView {
  @ApiProperty({
    description: 'The secret: shown this once, never stored, never returned again',
    example: 'gth_live_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg012345',
  })
  api_key!: string;
}

@ApiSchema({ name: 'ApiKeyPage', description: 'In the order asked for: newest first by default' })
class ApiKeyPageSchema implements ApiKeyPage {
  @ApiProperty({ type: () => ApiKeySchema, isArray: true })
  data!: ApiKeySchema[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as `cursor` for the next page; null on the last',
  })
  next_cursor!: string | null;
}

@ApiSchema({ name: 'ApiKeyUsage', description: 'One authentication attempt with a key' })
class ApiKeyUsageSchema implements UsageView {
  @ApiProperty(DATE_TIME)
  occurred_at!: string;

  @ApiProperty({ description: '`success` or the error code the attempt got', example: 'success' })
  outcome!: string;

  @ApiProperty({ type: 'string', nullable: true })
  ip!: string | null;

  @ApiProperty({ type: 'string', nullable: true })
  user_agent!: string | null;

  @ApiProperty({ type: 'string', nullable: true })
  request_id!: string | null;
}

@ApiSchema({ name: 'ApiKeyUsagePage', description: 'Newest first' })
class ApiKeyUsagePageSchema {
  @ApiProperty({ type: () => ApiKeyUsageSchema, isArray: true })
  data!: ApiKeyUsageSchema[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as `cursor` for the next page; null on the last',
  })
  next_cursor!: string | null;
}

/** Ids of other organizations' keys, of deleted keys and malformed ids all answer the same 404. */
const KEY_ID = ApiParam({ name: 'id', format: 'uuid', description: 'Id of the API key' });

@ApiTags('api-keys')
@ApiBearerAuth(BEARER_AUTH)
@Controller('api/v1/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @HttpCode(201)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'createApiKey',
    summary: 'Create an API key',
    description:
      'Needs write:keys, on the pro and enterprise plans. The key gets at most the permissions of the caller ' +
      '(else 403 forbidden); the response is the only one that contains the secret. `allowed_ips` restricts ' +
      'where the key and its tokens may be used from.',
  })
  @ApiCreatedResponse({ type: CreatedApiKeySchema, description: 'The new key, with its secret' })
  @ApiErrors(...BEARER_ERRORS, ...JSON_BODY_ERRORS, 'plan_not_allowed', 'conflict')
  create(@CurrentActor() actor: Actor, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyView> {
    return this.apiKeys.create(actor, body);
  }

  @Get()
  @Authorize('read:keys')
  @ApiOperation({
    operationId: 'listApiKeys',
    summary: "List the organization's API keys",
    description:
      'Needs read:keys. Newest first unless `sort` and `order` say otherwise; `q` searches names (contains) and ' +
      'client ids (prefix), case-insensitively. Pages follow each other exactly under every sort: pass ' +
      '`next_cursor` back with the same filters, `sort` and `order`.',
  })
  @ApiOkResponse({ type: ApiKeyPageSchema, description: 'One page of keys' })
  @ApiErrors(...BEARER_ERRORS, 'validation_failed')
  list(@CurrentActor() actor: Actor, @Query() query: ListApiKeysDto): Promise<ApiKeyPage> {
    return this.apiKeys.list(actor.organizationId, query);
  }

  @Get(':id')
  @Authorize('read:keys')
  @ApiOperation({ operationId: 'getApiKey', summary: 'Get an API key', description: 'Needs read:keys.' })
  @KEY_ID
  @ApiOkResponse({ type: ApiKeySchema, description: 'The key' })
  @ApiErrors(...BEARER_ERRORS, 'not_found')
  get(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<ApiKeyView> {
    return this.apiKeys.get(actor.organizationId, id);
  }

  @Patch(':id')
  @HttpCode(200)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'updateApiKey',
    summary: 'Rename an API key, or change its description or metadata',
    description:
      `${MANAGE_RULE} Sets the fields given (at least one; else 400) and keeps the others; metadata is replaced ` +
      'as a whole. Audited as api_key.updated with what changed. Revoked keys may be relabelled too.',
  })
  @KEY_ID
  @ApiBody({ type: UpdateApiKeyDto })
  @ApiOkResponse({ type: ApiKeySchema, description: 'The key, as changed' })
  @ApiErrors(...BEARER_ERRORS, ...JSON_BODY_ERRORS, 'forbidden', 'not_found')
  update(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: UpdateApiKeyDto,
  ): Promise<ApiKeyView> {
    return this.apiKeys.update(actor, id, body);
  }

  @Get(':id/usage')
  @Authorize('read:keys')
  @ApiOperation({
    operationId: 'listApiKeyUsage',
    summary: 'List authentication attempts with an API key',
    description: 'Needs read:keys. Newest first.',
  })
  @KEY_ID
  @ApiOkResponse({ type: ApiKeyUsagePageSchema, description: 'One page of attempts' })
  @ApiErrors(...BEARER_ERRORS, 'validation_failed', 'not_found')
  usage(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Query() query: ListUsageDto,
  ): Promise<{ data: UsageView[]; next_cursor: string | null }> {
    return this.apiKeys.listUsage(actor.organizationId, id, query);
  }

  @Post(':id/rotate')
  @HttpCode(200)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'rotateApiKey',
    summary: 'Rotate the secret of an API key',
    description:
      `${MANAGE_RULE} Returns the new secret; the previous one keeps working for the grace period (24 hours ` +
      'unless given), or until the rotation is finished.',
  })
  @KEY_ID
  @ApiBody({ type: RotateApiKeyDto, required: false })
  @ApiOkResponse({ type: CreatedApiKeySchema, description: 'The key, with its new secret' })
  @ApiErrors(...BEARER_ERRORS, ...JSON_BODY_ERRORS, 'forbidden', 'not_found', 'conflict')
  rotate(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: RotateApiKeyDto,
  ): Promise<CreatedApiKeyView> {
    return this.apiKeys.rotate(actor, id, body);
  }

  @Post(':id/rotate/finish')
  @HttpCode(200)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'finishApiKeyRotation',
    summary: 'Retire the previous secret of a rotating key now',
    description: `${MANAGE_RULE} The previous secret, and every token issued from it, stop working.`,
  })
  @KEY_ID
  @ApiOkResponse({ type: ApiKeySchema, description: 'The key, no longer rotating' })
  @ApiErrors(...BEARER_ERRORS, 'forbidden', 'not_found', 'conflict')
  finishRotation(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<ApiKeyView> {
    return this.apiKeys.finishRotation(actor, id);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key',
    description:
      `${MANAGE_RULE} Immediate and final: the key and every token issued from it stop working. Revoking a ` +
      'revoked key changes nothing.',
  })
  @KEY_ID
  @ApiOkResponse({ type: ApiKeySchema, description: 'The revoked key' })
  @ApiErrors(...BEARER_ERRORS, 'forbidden', 'not_found')
  revoke(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<ApiKeyView> {
    return this.apiKeys.revoke(actor, id);
  }

  @Post(':id/disable')
  @HttpCode(200)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'disableApiKey',
    summary: 'Disable an API key',
    description:
      `${MANAGE_RULE} Reversible, unlike revoke: the key cannot authenticate (401 api_key_disabled) and its ` +
      'tokens are refused on every node at once, until it is enabled. Disabling a disabled key changes nothing. ' +
      'A revoked key answers 409.',
  })
  @KEY_ID
  @ApiOkResponse({ type: ApiKeySchema, description: 'The key, disabled' })
  @ApiErrors(...BEARER_ERRORS, 'forbidden', 'not_found', 'conflict')
  disable(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<ApiKeyView> {
    return this.apiKeys.disable(actor, id);
  }

  @Post(':id/enable')
  @HttpCode(200)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'enableApiKey',
    summary: 'Enable a disabled API key',
    description:
      `${MANAGE_RULE} The key authenticates again and its unexpired tokens work again, on every node. Enabling ` +
      'an enabled key changes nothing. A revoked key answers 409.',
  })
  @KEY_ID
  @ApiOkResponse({ type: ApiKeySchema, description: 'The key, enabled' })
  @ApiErrors(...BEARER_ERRORS, 'forbidden', 'not_found', 'conflict')
  enable(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<ApiKeyView> {
    return this.apiKeys.enable(actor, id);
  }

  @Put(':id/allowed-ips')
  @HttpCode(200)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'setApiKeyAllowedIps',
    summary: 'Set the IP allowlist of an API key',
    description:
      `${MANAGE_RULE} Replaces the whole list; an empty array lifts the restriction. Authenticate and direct key ` +
      'use check the new list at once; tokens already issued carry the list they were issued with (in their ' +
      '`allowed_ips` claim) until they expire. Setting the list the key already has changes nothing. A revoked ' +
      'key answers 409.',
  })
  @KEY_ID
  @ApiBody({ type: SetAllowedIpsDto })
  @ApiOkResponse({ type: ApiKeySchema, description: 'The key, with its new allowlist' })
  @ApiErrors(...BEARER_ERRORS, ...JSON_BODY_ERRORS, 'forbidden', 'not_found', 'conflict')
  setAllowedIps(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: SetAllowedIpsDto,
  ): Promise<ApiKeyView> {
    return this.apiKeys.setAllowedIps(actor, id, body);
  }

  @Put(':id/rate-limit')
  @HttpCode(200)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'setApiKeyRateLimit',
    summary: "Override the organization plan's rate limit for an API key",
    description:
      `${MANAGE_RULE} The gateway applies the new limit at once; tokens issued from now on carry it in their ` +
      '`rate_limit` claim. Setting the limit the key already has changes nothing. A revoked key answers 409.',
  })
  @KEY_ID
  @ApiBody({ type: SetRateLimitDto })
  @ApiOkResponse({ type: ApiKeySchema, description: 'The key, with its new rate limit' })
  @ApiErrors(...BEARER_ERRORS, ...JSON_BODY_ERRORS, 'forbidden', 'not_found', 'conflict')
  setRateLimit(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: SetRateLimitDto,
  ): Promise<ApiKeyView> {
    return this.apiKeys.setRateLimit(actor, id, body);
  }

  @Delete(':id/rate-limit')
  @HttpCode(200)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'clearApiKeyRateLimit',
    summary: "Return an API key to its organization plan's rate limit",
    description: `${MANAGE_RULE} Drops the key's override; a key without one changes nothing. A revoked key answers 409.`,
  })
  @KEY_ID
  @ApiOkResponse({ type: ApiKeySchema, description: "The key, back on its plan's rate limit" })
  @ApiErrors(...BEARER_ERRORS, 'forbidden', 'not_found', 'conflict')
  clearRateLimit(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<ApiKeyView> {
    return this.apiKeys.clearRateLimit(actor, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'deleteApiKey',
    summary: 'Delete an API key',
    description: `${MANAGE_RULE} Revokes the key, erases its secret hashes and hides it from lists.`,
  })
  @KEY_ID
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(...BEARER_ERRORS, 'forbidden', 'not_found')
  remove(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<void> {
    return this.apiKeys.delete(actor, id);
  }
}
