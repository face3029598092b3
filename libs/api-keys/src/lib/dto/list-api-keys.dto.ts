import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { API_KEY_ENVIRONMENTS, type ApiKeyEnvironment } from '@gatehouse/crypto';

export const API_KEY_PAGE_SIZE_MAX = 100;
export const API_KEY_PAGE_SIZE_DEFAULT = 50;
export const API_KEY_STATUSES = ['active', 'revoked', 'expired'] as const;
export type ApiKeyStatus = (typeof API_KEY_STATUSES)[number];

export class ListApiKeysDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(API_KEY_PAGE_SIZE_MAX)
  limit?: number;

  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @IsOptional()
  @IsIn(API_KEY_STATUSES)
  status?: ApiKeyStatus;

  @IsOptional()
  @IsIn(API_KEY_ENVIRONMENTS)
  environment?: ApiKeyEnvironment;
}
