import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  Length,
  Matches,
} from 'class-validator';
import { PERMISSIONS, type Permission } from '@gatehouse/contracts';
import { API_KEY_ENVIRONMENTS, type ApiKeyEnvironment } from '@gatehouse/crypto';

export const API_KEY_NAME_MAX = 100;

export class CreateApiKeyDto {
  @IsString()
  @Length(1, API_KEY_NAME_MAX)
  name!: string;

  @IsString()
  @Matches(/^[A-Za-z0-9._-]{3,50}$/, {
    message: 'client_id must be 3–50 characters of letters, digits, ".", "-" and "_"',
  })
  client_id!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(PERMISSIONS.length)
  @ArrayUnique()
  @IsIn(PERMISSIONS, { each: true, message: `each permission must be one of ${PERMISSIONS.join(', ')}` })
  permissions!: Permission[];

  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'expires_at must be an ISO 8601 date-time' })
  expires_at?: string;

  @IsOptional()
  @IsIn(API_KEY_ENVIRONMENTS)
  environment?: ApiKeyEnvironment;
}
