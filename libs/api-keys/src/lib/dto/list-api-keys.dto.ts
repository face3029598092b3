import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Max, MaxLength, Min } from 'class-validator';
import { API_KEY_ENVIRONMENTS, type ApiKeyEnvironment } from '@gatehouse/crypto';
import {
  API_KEY_SORT_DEFAULT,
  API_KEY_SORTS,
  SORT_ORDER_DEFAULT,
  SORT_ORDERS,
  type ApiKeySort,
  type SortOrder,
} from '../api-key-list-cursor';

export const API_KEY_PAGE_SIZE_MAX = 100;
export const API_KEY_PAGE_SIZE_DEFAULT = 50;
export const API_KEY_SEARCH_MAX = 100;
/** A cursor of the name sort carries a name of up to 100 characters, JSON-escaped and base64url-encoded. */
export const API_KEY_CURSOR_MAX = 1000;
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

  @ApiPropertyOptional({
    description: '`next_cursor` of the previous page, from a list of the same `sort` and `order` (else 400)',
    maxLength: API_KEY_CURSOR_MAX,
  })
  @IsOptional()
  @IsString()
  @MaxLength(API_KEY_CURSOR_MAX)
  cursor?: string;

  @ApiPropertyOptional({ enum: API_KEY_STATUSES, description: 'Only keys in this status' })
  @IsOptional()
  @IsIn(API_KEY_STATUSES)
  status?: ApiKeyStatusFilter;

  @ApiPropertyOptional({ enum: API_KEY_ENVIRONMENTS, description: 'Only keys of this environment' })
  @IsOptional()
  @IsIn(API_KEY_ENVIRONMENTS)
  environment?: ApiKeyEnvironment;

  @ApiPropertyOptional({
    description:
      'Search, case-insensitive: keys whose name contains it, or whose client_id starts with it. Combines with ' +
      'the other filters.',
    minLength: 1,
    maxLength: API_KEY_SEARCH_MAX,
    example: 'ci-',
  })
  @IsOptional()
  @IsString()
  @Length(1, API_KEY_SEARCH_MAX)
  q?: string;

  @ApiPropertyOptional({
    enum: API_KEY_SORTS,
    default: API_KEY_SORT_DEFAULT,
    description:
      'Sort key; ties are broken by id in the same direction. Keys never used come last under last_used_at, in ' +
      'both directions. name sorts by the database collation.',
  })
  @IsOptional()
  @IsIn(API_KEY_SORTS)
  sort?: ApiKeySort;

  @ApiPropertyOptional({ enum: SORT_ORDERS, default: SORT_ORDER_DEFAULT, description: 'Sort direction' })
  @IsOptional()
  @IsIn(SORT_ORDERS)
  order?: SortOrder;
}
