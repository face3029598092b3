import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Max, MaxLength, Min } from 'class-validator';
import { SCAN_STATUSES, type ScanStatus } from '../findings.constants';

export const SCANS_PAGE_SIZE_MAX = 100;
export const SCANS_PAGE_SIZE_DEFAULT = 50;

/** `GET /api/v1/scans`: every filter is optional and all of them combine (AND). */
export class ListScansDto {
  @ApiPropertyOptional({
    description: 'Page size',
    type: 'integer',
    minimum: 1,
    maximum: SCANS_PAGE_SIZE_MAX,
    default: SCANS_PAGE_SIZE_DEFAULT,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(SCANS_PAGE_SIZE_MAX)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ enum: SCAN_STATUSES, description: 'Only scans in this status' })
  @IsOptional()
  @IsIn(SCAN_STATUSES)
  status?: ScanStatus;

  @ApiPropertyOptional({
    description: 'Only scans of this repository (spelt as uploads are: trailing `/` and `.git` dropped)',
    maxLength: 500,
    example: 'acme/payments',
  })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  repository?: string;

  @ApiPropertyOptional({ description: 'Only scans of this ref', maxLength: 500, example: 'refs/heads/main' })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  ref?: string;
}
