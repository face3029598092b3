import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { SEVERITIES, type Severity } from '@gatehouse/persistence';

export const FINDINGS_PAGE_SIZE_MAX = 100;

export class ListFindingsDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(FINDINGS_PAGE_SIZE_MAX)
  limit?: number;

  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @IsOptional()
  @IsIn(SEVERITIES)
  severity?: Severity;
}
