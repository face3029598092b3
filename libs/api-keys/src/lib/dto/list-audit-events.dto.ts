import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsTimestamp } from '@gatehouse/http';
import { AUDIT_ACTOR_TYPES, type AuditActorType } from '@gatehouse/persistence';

export const AUDIT_PAGE_SIZE_MAX = 200;
/** Rows in one JSON-lines export. */
export const AUDIT_EXPORT_MAX = 50_000;

export class ListAuditEventsDto {
  @ApiPropertyOptional({
    description: 'Page size (ignored by the export, which pages by itself)',
    type: 'integer',
    minimum: 1,
    maximum: AUDIT_PAGE_SIZE_MAX,
    default: 50,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(AUDIT_PAGE_SIZE_MAX)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page', maxLength: 300 })
  @IsOptional()
  @IsString()
  @MaxLength(300)
  cursor?: string;

  @ApiPropertyOptional({
    description: 'Only events of this action',
    pattern: '^[a-z_.]{1,64}$',
    example: 'api_key.revoked',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z_.]{1,64}$/, { message: 'action must look like api_key.revoked' })
  action?: string;

  @ApiPropertyOptional({ enum: AUDIT_ACTOR_TYPES, description: 'Only events by this kind of actor' })
  @IsOptional()
  @IsIn(AUDIT_ACTOR_TYPES)
  actor_type?: AuditActorType;

  @ApiPropertyOptional({
    description: 'Only events by this actor, as recorded: user:<id>, api_key:<id> or system:<what>',
    maxLength: 200,
    example: 'api_key:0b0e4c8e-3f5e-4c4e-9d1a-6b1f2a3c4d5e',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  actor?: string;

  @ApiPropertyOptional({
    description: 'Only events about this target (an API key or organization id)',
    maxLength: 100,
  })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  target_id?: string;

  @ApiPropertyOptional({
    description: 'Only events at or after this instant',
    type: 'string',
    format: 'date-time',
  })
  @IsOptional()
  @IsTimestamp()
  since?: string;

  @ApiPropertyOptional({
    description: 'Only events before this instant',
    type: 'string',
    format: 'date-time',
  })
  @IsOptional()
  @IsTimestamp()
  until?: string;
}
