import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { SEVERITIES, type Severity } from '@gatehouse/persistence';

export const FINDINGS_PAGE_SIZE_MAX = 100;

export class ListFindingsDto {
  @ApiPropertyOptional({
    description: 'Page size',
    type: 'integer',
    minimum: 1,
    maximum: FINDINGS_PAGE_SIZE_MAX,
    default: 50,
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

  @ApiPropertyOptional({ enum: SEVERITIES, description: 'Only findings of this severity' })
  @IsOptional()
  @IsIn(SEVERITIES)
  severity?: Severity;
}
