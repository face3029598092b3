import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { API_KEY_ENVIRONMENTS, type ApiKeyEnvironment } from '@gatehouse/crypto';

export const API_KEY_PAGE_SIZE_MAX = 100;
export const API_KEY_PAGE_SIZE_DEFAULT = 50;
export const API_KEY_STATUSES = [
  'active',
  'rotating',
  'disabled',
  'revoked',
  'expired',
  'expiring_soon',
] as const;
export type ApiKeyStatusFilter = (typeof API_KEY_STATUSES)[number];

export class ListApiKeysDto {
  @ApiPropertyOptional({
    description: 'Page size',
    type: 'integer',
    minimum: 1,
    maximum: API_KEY_PAGE_SIZE_MAX,
    default: API_KEY_PAGE_SIZE_DEFAULT,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(API_KEY_PAGE_SIZE_MAX)
  limit?: number;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ enum: API_KEY_STATUSES, description: 'Only keys in this status' })
  @IsOptional()
  @IsIn(API_KEY_STATUSES)
  status?: ApiKeyStatusFilter;

  @ApiPropertyOptional({ enum: API_KEY_ENVIRONMENTS, description: 'Only keys of this environment' })
  @IsOptional()
  @IsIn(API_KEY_ENVIRONMENTS)
  environment?: ApiKeyEnvironment;
}
