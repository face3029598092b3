import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

export const USAGE_PAGE_SIZE_MAX = 200;

export class ListUsageDto {
  @ApiPropertyOptional({
    description: 'Page size',
    type: 'integer',
    minimum: 1,
    maximum: USAGE_PAGE_SIZE_MAX,
    default: 50,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(USAGE_PAGE_SIZE_MAX)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page', maxLength: 300 })
  @IsOptional()
  @IsString()
  @MaxLength(300)
  cursor?: string;

  /** `success` or an error code such as `client_id_mismatch`. */
  @ApiPropertyOptional({
    description: 'Only attempts with this outcome: `success` or an error code such as `client_id_mismatch`',
    pattern: '^[a-z_]{1,40}$',
    example: 'success',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z_]{1,40}$/)
  outcome?: string;
}
