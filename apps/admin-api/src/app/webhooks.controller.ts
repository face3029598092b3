import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
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
import { CurrentActor, type Actor } from '@gatehouse/api-keys';
import { Authorize } from '@gatehouse/auth';
import type { Page } from '@gatehouse/contracts';
import { ApiErrors, BEARER_AUTH, BEARER_ERRORS, JSON_BODY_ERRORS } from '@gatehouse/http';
import {
  CreateWebhookDto,
  ListWebhookPageDto,
  UpdateWebhookDto,
  WEBHOOK_EVENT_TYPES,
  WebhooksService,
  type CreatedWebhookEndpointView,
  type WebhookAttemptView,
  type WebhookDeliveryView,
  type WebhookEndpointView,
  type WebhookTestView,
} from '@gatehouse/webhooks';

const DATE_TIME = { type: 'string', format: 'date-time' } as const;
const NULLABLE_DATE_TIME = { ...DATE_TIME, nullable: true } as const;
const WRITE_RULE = 'Needs write:keys (owners and admins, or a key holding it).';

@ApiSchema({ name: 'WebhookEndpoint', description: 'A receiver of key events: never its secret' })
class WebhookEndpointSchema implements WebhookEndpointView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'https://hooks.example.com/gatehouse' })
  url!: string;

  @ApiProperty()
  description!: string;

  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true })
  event_types!: string[];

  @ApiProperty()
  enabled!: boolean;

  @ApiProperty({ type: 'integer', description: 'api_key.expiring is sent this many days before expiry' })
  expiring_within_days!: number;

  @ApiProperty(DATE_TIME)
  created_at!: string;

  @ApiProperty({ example: 'user:auth0|5f7c' })
  created_by!: string;

  @ApiProperty(DATE_TIME)
  updated_at!: string;

  @ApiProperty(NULLABLE_DATE_TIME)
  secret_rotated_at!: string | null;
}

@ApiSchema({ name: 'CreatedWebhookEndpoint', description: 'An endpoint with its signing secret, shown once' })
class CreatedWebhookEndpointSchema extends WebhookEndpointSchema implements CreatedWebhookEndpointView {
  @ApiProperty({
    description: 'The Standard Webhooks signing secret: shown this once (at creation and rotation)',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  })
  secret!: string;
}

@ApiSchema({ name: 'WebhookEndpointPage', description: 'Newest first' })
class WebhookEndpointPageSchema implements Page<WebhookEndpointView> {
  @ApiProperty({ type: () => WebhookEndpointSchema, isArray: true })
  data!: WebhookEndpointSchema[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Pass as `cursor` for the next page' })
  next_cursor!: string | null;
}

@ApiSchema({ name: 'WebhookAttempt', description: 'One POST to the endpoint' })
class WebhookAttemptSchema implements WebhookAttemptView {
  @ApiProperty({ type: 'integer', minimum: 1 })
  attempt!: number;

  @ApiProperty(DATE_TIME)
  attempted_at!: string;

  @ApiProperty({ type: 'integer', nullable: true, description: "The receiver's status; null when none came" })
  status_code!: number | null;

  @ApiProperty({ type: 'string', nullable: true, example: 'HTTP 500' })
  error!: string | null;

  @ApiProperty({ type: 'integer' })
  duration_ms!: number;
}

@ApiSchema({ name: 'WebhookDelivery', description: 'One event sent to one endpoint, with every attempt' })
class WebhookDeliverySchema implements WebhookDeliveryView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid', description: 'The webhook-id header of every attempt' })
  event_id!: string;

  @ApiProperty({ example: 'api_key.revoked' })
  event_type!: string;

  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] })
  status!: 'pending' | 'delivered' | 'failed';

  @ApiProperty({ type: 'integer', description: 'Attempts started (one interrupted by a crash counts)' })
  attempts!: number;

  @ApiProperty(NULLABLE_DATE_TIME)
  next_attempt_at!: string | null;

  @ApiProperty({ type: 'integer', nullable: true })
  last_status_code!: number | null;

  @ApiProperty({ type: 'string', nullable: true })
  last_error!: string | null;

  @ApiProperty(DATE_TIME)
  created_at!: string;

  @ApiProperty(NULLABLE_DATE_TIME)
  completed_at!: string | null;

  @ApiProperty({ type: () => WebhookAttemptSchema, isArray: true })
  attempt_log!: WebhookAttemptSchema[];
}

@ApiSchema({ name: 'WebhookDeliveryPage', description: 'Newest first' })
class WebhookDeliveryPageSchema implements Page<WebhookDeliveryView> {
  @ApiProperty({ type: () => WebhookDeliverySchema, isArray: true })
  data!: WebhookDeliverySchema[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Pass as `cursor` for the next page' })
  next_cursor!: string | null;
}

@ApiSchema({ name: 'WebhookTest', description: 'The ping queued for delivery' })
class WebhookTestSchema implements WebhookTestView {
  @ApiProperty({ format: 'uuid' })
  event_id!: string;

  @ApiProperty({ format: 'uuid' })
  delivery_id!: string;
}

const WEBHOOK_ID = ApiParam({ name: 'id', format: 'uuid', description: 'Id of the webhook endpoint' });

@ApiTags('webhooks')
@ApiBearerAuth(BEARER_AUTH)
@Controller('api/v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'createWebhook',
    summary: 'Add a webhook endpoint',
    description: `${WRITE_RULE} Returns the signing secret once. At most 20 endpoints per organization.`,
  })
  @ApiBody({ type: CreateWebhookDto })
  @ApiCreatedResponse({ type: CreatedWebhookEndpointSchema })
  @ApiErrors(...BEARER_ERRORS, ...JSON_BODY_ERRORS, 'forbidden', 'limit_exceeded')
  create(@CurrentActor() actor: Actor, @Body() body: CreateWebhookDto): Promise<CreatedWebhookEndpointView> {
    return this.webhooks.create(actor, body);
  }

  @Get()
  @Authorize('read:keys')
  @ApiOperation({ operationId: 'listWebhooks', summary: "List the organization's webhook endpoints" })
  @ApiOkResponse({ type: WebhookEndpointPageSchema })
  @ApiErrors(...BEARER_ERRORS, 'validation_failed')
  list(@CurrentActor() actor: Actor, @Query() query: ListWebhookPageDto): Promise<Page<WebhookEndpointView>> {
    return this.webhooks.list(actor.organizationId, query);
  }

  @Get(':id')
  @Authorize('read:keys')
  @ApiOperation({ operationId: 'getWebhook', summary: 'Get a webhook endpoint' })
  @WEBHOOK_ID
  @ApiOkResponse({ type: WebhookEndpointSchema })
  @ApiErrors(...BEARER_ERRORS, 'not_found')
  get(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<WebhookEndpointView> {
    return this.webhooks.get(actor.organizationId, id);
  }

  @Patch(':id')
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'updateWebhook',
    summary: 'Change a webhook endpoint',
    description: WRITE_RULE,
  })
  @WEBHOOK_ID
  @ApiBody({ type: UpdateWebhookDto })
  @ApiOkResponse({ type: WebhookEndpointSchema })
  @ApiErrors(...BEARER_ERRORS, ...JSON_BODY_ERRORS, 'forbidden', 'not_found')
  update(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Body() body: UpdateWebhookDto,
  ): Promise<WebhookEndpointView> {
    return this.webhooks.update(actor, id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'deleteWebhook',
    summary: 'Delete a webhook endpoint',
    description: `${WRITE_RULE} Its pending deliveries and its delivery log go with it.`,
  })
  @WEBHOOK_ID
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(...BEARER_ERRORS, 'forbidden', 'not_found')
  remove(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<void> {
    return this.webhooks.delete(actor, id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'rotateWebhookSecret',
    summary: 'Replace the signing secret of a webhook endpoint',
    description: `${WRITE_RULE} The new secret is returned once and signs every attempt from now on.`,
  })
  @WEBHOOK_ID
  @ApiOkResponse({ type: CreatedWebhookEndpointSchema })
  @ApiErrors(...BEARER_ERRORS, 'forbidden', 'not_found')
  rotateSecret(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<CreatedWebhookEndpointView> {
    return this.webhooks.rotateSecret(actor, id);
  }

  @Get(':id/deliveries')
  @Authorize('read:keys')
  @ApiOperation({
    operationId: 'listWebhookDeliveries',
    summary: 'The delivery log of a webhook endpoint',
    description: 'Newest first, paged with `cursor`; each delivery with its attempts.',
  })
  @WEBHOOK_ID
  @ApiOkResponse({ type: WebhookDeliveryPageSchema })
  @ApiErrors(...BEARER_ERRORS, 'validation_failed', 'not_found')
  deliveries(
    @CurrentActor() actor: Actor,
    @Param('id') id: string,
    @Query() query: ListWebhookPageDto,
  ): Promise<Page<WebhookDeliveryView>> {
    return this.webhooks.deliveries(actor.organizationId, id, query);
  }

  @Post(':id/test')
  @HttpCode(202)
  @Authorize('write:keys')
  @ApiOperation({
    operationId: 'testWebhook',
    summary: 'Send a webhook.ping event to an endpoint',
    description: `${WRITE_RULE} Queued like any event; its outcome shows in the delivery log.`,
  })
  @WEBHOOK_ID
  @ApiAcceptedResponse({ type: WebhookTestSchema })
  @ApiErrors(...BEARER_ERRORS, 'forbidden', 'not_found')
  test(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<WebhookTestView> {
    return this.webhooks.test(actor, id);
  }
}
