import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
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
import { SEVERITIES, UPLOAD_LIMIT_DEFAULTS, type Severity } from '../findings.constants';

/** Limits of a native finding; how many one upload may hold is SCAN_MAX_RESULTS_PER_RUN (docs/FINDINGS.md). */
export const FINDING_DESCRIPTION_MAX = 10_000;

export class FindingLocationDto {
  @ApiProperty({
    description: 'File path within the scanned repository',
    minLength: 1,
    maxLength: 1000,
    example: 'src/config.ts',
  })
  @IsString()
  @Length(1, 1000)
  path!: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 10_000_000, example: 12 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  start_line?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 10_000_000, example: 14 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  end_line?: number;
}

export class FindingDto {
  @ApiProperty({
    description: 'Identifier of the rule that matched',
    minLength: 1,
    maxLength: 200,
    example: 'hardcoded-secret',
  })
  @IsString()
  @Length(1, 200)
  rule_id!: string;

  @ApiProperty({ minLength: 1, maxLength: 500, example: 'Hard-coded secret' })
  @IsString()
  @Length(1, 500)
  title!: string;

  @ApiProperty({ enum: SEVERITIES, example: 'high' })
  @IsIn(SEVERITIES)
  severity!: Severity;

  @ApiProperty({ type: () => FindingLocationDto })
  @IsObject()
  @ValidateNested()
  @Type(() => FindingLocationDto)
  location!: FindingLocationDto;

  @ApiPropertyOptional({ minLength: 0, maxLength: FINDING_DESCRIPTION_MAX })
  @IsOptional()
  @IsString()
  @Length(0, FINDING_DESCRIPTION_MAX)
  description?: string;

  @ApiPropertyOptional({
    description: 'The scanner that reported it',
    minLength: 1,
    maxLength: 100,
    example: 'gitleaks',
  })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  tool?: string;

  @ApiPropertyOptional({
    description: 'Stable identity of the finding across scans',
    minLength: 1,
    maxLength: 200,
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  fingerprint?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'Free-form, stored as given',
  })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;
}

export class IngestFindingsDto {
  @ApiProperty({
    type: () => FindingDto,
    isArray: true,
    minItems: 1,
    maxItems: UPLOAD_LIMIT_DEFAULTS.SCAN_MAX_RESULTS_PER_RUN,
    description:
      'Stored together or not at all; at most SCAN_MAX_RESULTS_PER_RUN (default 25 000), each validated as it is read',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => FindingDto)
  findings!: FindingDto[];
}
