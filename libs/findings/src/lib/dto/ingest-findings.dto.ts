import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { SEVERITIES, type Severity } from '@gatehouse/persistence';

/** Limits of one upload; the body limit (BODY_LIMIT_BYTES) applies on top. */
export const FINDINGS_PER_REQUEST_MAX = 1000;
export const FINDING_DESCRIPTION_MAX = 10_000;

export class FindingLocationDto {
  @IsString()
  @Length(1, 1000)
  path!: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  start_line?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  end_line?: number;
}

export class FindingDto {
  @IsString()
  @Length(1, 200)
  rule_id!: string;

  @IsString()
  @Length(1, 500)
  title!: string;

  @IsIn(SEVERITIES)
  severity!: Severity;

  @IsObject()
  @ValidateNested()
  @Type(() => FindingLocationDto)
  location!: FindingLocationDto;

  @IsOptional()
  @IsString()
  @Length(0, FINDING_DESCRIPTION_MAX)
  description?: string;

  @IsOptional()
  @IsString()
  @Length(1, 100)
  tool?: string;

  @IsOptional()
  @IsString()
  @Length(1, 200)
  fingerprint?: string;

  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;
}

export class IngestFindingsDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(FINDINGS_PER_REQUEST_MAX)
  @ValidateNested({ each: true })
  @Type(() => FindingDto)
  findings!: FindingDto[];
}
