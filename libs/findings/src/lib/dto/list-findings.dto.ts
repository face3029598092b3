import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { IsTimestamp } from '@gatehouse/http';
import { FINDING_STATES, SEVERITIES, type FindingState, type Severity } from '../findings.constants';

export const FINDINGS_PAGE_SIZE_MAX = 100;
export const FINDINGS_PAGE_SIZE_DEFAULT = 50;

/**
 * A query parameter given several times (`severity=high&severity=critical`, an array once Fastify has parsed it)
 * or once with commas (`severity=high,critical`), or both: one list without repeats. Anything else is left as
 * it is, for validation to refuse.
 */
export function listOfQueryValues(value: unknown): unknown {
  const parts = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(parts) || !parts.every((part): part is string => typeof part === 'string')) return value;
  return [...new Set(parts.flatMap((part) => part.split(',')).map((part) => part.trim()))];
}

/** `GET /api/v1/findings`: every filter is optional and all of them combine (AND). */
export class ListFindingsDto {
  @ApiPropertyOptional({
    description: 'Page size',
    type: 'integer',
    minimum: 1,
    maximum: FINDINGS_PAGE_SIZE_MAX,
    default: FINDINGS_PAGE_SIZE_DEFAULT,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(FINDINGS_PAGE_SIZE_MAX)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ enum: FINDING_STATES, description: 'Only findings in this state' })
  @IsOptional()
  @IsIn(FINDING_STATES)
  state?: FindingState;

  @ApiPropertyOptional({
    enum: SEVERITIES,
    isArray: true,
    description:
      'Only findings of these severities: repeat the parameter (`severity=high&severity=critical`) or ' +
      'separate them with commas (`severity=high,critical`)',
  })
  @IsOptional()
  @Transform(({ value }) => listOfQueryValues(value))
  @IsArray()
  @ArrayMaxSize(SEVERITIES.length)
  @IsIn(SEVERITIES, { each: true })
  severity?: Severity[];

  @ApiPropertyOptional({ description: 'Only findings of this scanner', maxLength: 200, example: 'semgrep' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  tool?: string;

  @ApiPropertyOptional({
    description: 'Only findings of this rule (`rule_id`)',
    maxLength: 200,
    example: 'javascript.lang.security.hardcoded-secret',
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  rule?: string;

  @ApiPropertyOptional({
    description: 'Only findings of this repository (spelt as uploads are: trailing `/` and `.git` dropped)',
    maxLength: 500,
    example: 'acme/payments',
  })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  repository?: string;

  @ApiPropertyOptional({
    description: 'Only findings of this ref',
    maxLength: 500,
    example: 'refs/heads/main',
  })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  ref?: string;

  @ApiPropertyOptional({
    description:
      'Only findings whose location path starts with this, taken literally (`%` and `_` are no wildcards); ' +
      'a directory is best given with its trailing `/`',
    maxLength: 1000,
    example: 'src/payments/',
  })
  @IsOptional()
  @IsString()
  @Length(1, 1000)
  path_prefix?: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description:
      'Only findings this scan reported (new to it, seen again or reopened), whatever their state now',
  })
  @IsOptional()
  @IsUUID('all')
  scan?: string;

  @ApiPropertyOptional({
    description: 'Only findings first seen at or after this instant',
    type: 'string',
    format: 'date-time',
  })
  @IsOptional()
  @IsTimestamp()
  first_seen_after?: string;

  @ApiPropertyOptional({
    description: 'Only findings first seen before this instant',
    type: 'string',
    format: 'date-time',
  })
  @IsOptional()
  @IsTimestamp()
  first_seen_before?: string;
}
