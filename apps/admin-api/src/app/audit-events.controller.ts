import { Readable } from 'node:stream';
import { Controller, Get, Query, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiSchema, ApiTags } from '@nestjs/swagger';
import {
  AUDIT_ACTIONS,
  AUDIT_EXPORT_MAX,
  AuditService,
  CurrentActor,
  ListAuditEventsDto,
  type Actor,
  type AuditEventView,
} from '@gatehouse/api-keys';
import { Authorize } from '@gatehouse/auth';
import { ApiErrors, BEARER_AUTH, BEARER_ERRORS } from '@gatehouse/http';
import { AUDIT_ACTOR_TYPES } from '@gatehouse/persistence';
import { WEBHOOK_AUDIT_ACTIONS } from '@gatehouse/webhooks';

@ApiSchema({ name: 'AuditEvent', description: 'One mutation, recorded in the transaction that made it' })
class AuditEventSchema implements AuditEventView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ type: 'string', format: 'date-time' })
  occurred_at!: string;

  @ApiProperty({ enum: AUDIT_ACTOR_TYPES })
  actor_type!: string;

  @ApiProperty({ description: 'user:<id>, api_key:<id> or system:<what>', example: 'system:bootstrap' })
  actor!: string;

  @ApiProperty({
    description: `What happened; so far one of ${[...AUDIT_ACTIONS, ...WEBHOOK_AUDIT_ACTIONS].join(', ')}`,
    example: 'api_key.revoked',
  })
  action!: string;

  @ApiProperty({ enum: ['api_key', 'organization', 'webhook'] })
  target_type!: string;

  @ApiProperty({ type: 'string', nullable: true, format: 'uuid' })
  target_id!: string | null;

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Address of the caller, when it came over HTTP',
  })
  ip!: string | null;

  @ApiProperty({ type: 'string', nullable: true })
  request_id!: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'Depends on the action, e.g. the permissions of a created key',
  })
  details!: Record<string, unknown> | null;
}

@ApiSchema({ name: 'AuditEventPage', description: 'Newest first' })
class AuditEventPageSchema {
  @ApiProperty({ type: () => AuditEventSchema, isArray: true })
  data!: AuditEventSchema[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as `cursor` for the next page; null on the last',
  })
  next_cursor!: string | null;
}

@ApiTags('audit-events')
@ApiBearerAuth(BEARER_AUTH)
@Controller('api/v1/audit-events')
export class AuditEventsController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Authorize('read:keys')
  @ApiOperation({
    operationId: 'listAuditEvents',
    summary: "List the organization's audit trail",
    description: 'Needs read:keys. Newest first, paged with `cursor`.',
  })
  @ApiOkResponse({ type: AuditEventPageSchema, description: 'One page of events' })
  @ApiErrors(...BEARER_ERRORS, 'validation_failed')
  list(
    @CurrentActor() actor: Actor,
    @Query() query: ListAuditEventsDto,
  ): Promise<{ data: AuditEventView[]; next_cursor: string | null }> {
    return this.audit.list(actor.organizationId, query);
  }

  /** JSON lines (one event per line) for a SIEM, with the same filters as the list. */
  @Get('export')
  @Authorize('read:keys')
  @ApiOperation({
    operationId: 'exportAuditEvents',
    summary: 'Export the audit trail as JSON lines',
    description:
      'Needs read:keys. One AuditEvent object per line, newest first, with the filters of the list; at most ' +
      `${AUDIT_EXPORT_MAX} events per export.`,
  })
  @ApiOkResponse({
    description: 'An attachment, audit-events.jsonl',
    content: {
      'application/x-ndjson': {
        schema: { type: 'string', description: 'One AuditEvent JSON object per line' },
      },
    },
  })
  @ApiErrors(...BEARER_ERRORS, 'validation_failed')
  async export(@CurrentActor() actor: Actor, @Query() query: ListAuditEventsDto): Promise<StreamableFile> {
    return new StreamableFile(Readable.from(await this.audit.export(actor.organizationId, query)), {
      type: 'application/x-ndjson',
      disposition: 'attachment; filename="audit-events.jsonl"',
    });
  }
}
