import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';
import { ALLOWED_IPS_MAX, PERMISSIONS, type Permission } from '@gatehouse/contracts';
import { API_KEY_ENVIRONMENTS, type ApiKeyEnvironment } from '@gatehouse/crypto';
import { IsTimestamp } from '@gatehouse/http';
import {
  API_KEY_DESCRIPTION_PROPERTY,
  API_KEY_METADATA_PROPERTY,
  IsApiKeyDescription,
  IsApiKeyMetadataObject,
  type ApiKeyMetadata,
} from './api-key-labels';
import { ALLOWED_IP_ENTRY_MAX_LENGTH, ALLOWED_IPS_PROPERTY, IsIpOrCidr } from './set-allowed-ips.dto';

export const API_KEY_NAME_MAX = 100;

export class CreateApiKeyDto {
  @ApiProperty({
    description: 'A label for people; need not be unique',
    minLength: 1,
    maxLength: API_KEY_NAME_MAX,
    example: 'CI pipeline (main)',
  })
  @IsString()
  @Length(1, API_KEY_NAME_MAX)
  name!: string;

  @ApiProperty({
    description:
      "Identifies the calling client; unique among the organization's keys, and sent to authenticate",
    minLength: 3,
    maxLength: 50,
    pattern: '^[A-Za-z0-9._-]{3,50}$',
    example: 'ci-pipeline',
  })
  @IsString()
  @Matches(/^[A-Za-z0-9._-]{3,50}$/, {
    message: 'client_id must be 3–50 characters of letters, digits, ".", "-" and "_"',
  })
  client_id!: string;

  @ApiProperty({
    description: 'What tokens issued from the key may do; at most the permissions of the caller',
    enum: PERMISSIONS,
    isArray: true,
    minItems: 1,
    maxItems: PERMISSIONS.length,
    uniqueItems: true,
    example: ['write:findings'],
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(PERMISSIONS.length)
  @ArrayUnique()
  @IsIn(PERMISSIONS, { each: true, message: `each permission must be one of ${PERMISSIONS.join(', ')}` })
  permissions!: Permission[];

  @ApiPropertyOptional({
    description:
      'When the key stops working: in the future and within the configured maximum lifetime; never when omitted',
    type: 'string',
    format: 'date-time',
    example: '2030-01-31T00:00:00Z',
  })
  @IsOptional()
  @IsTimestamp({ message: 'expires_at must be an ISO 8601 date-time such as 2030-01-31T00:00:00Z' })
  expires_at?: string;

  // The defaults are told in the description, not as `default`: generators (openapi-typescript's default
  // settings) make a property with a `default` required in a client's request type.
  @ApiPropertyOptional({
    enum: API_KEY_ENVIRONMENTS,
    description: 'Prefix of the secret: gth_live_ or gth_test_. Default: live',
  })
  @IsOptional()
  @IsIn(API_KEY_ENVIRONMENTS)
  environment?: ApiKeyEnvironment;

  @ApiPropertyOptional({
    ...ALLOWED_IPS_PROPERTY,
    description: `${ALLOWED_IPS_PROPERTY.description} Default: [] (no restriction)`,
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(ALLOWED_IPS_MAX)
  @IsString({ each: true })
  @MaxLength(ALLOWED_IP_ENTRY_MAX_LENGTH, { each: true })
  @IsIpOrCidr({ each: true })
  allowed_ips?: string[];

  @ApiPropertyOptional({
    ...API_KEY_DESCRIPTION_PROPERTY,
    description: 'Free text for people; null or an empty string is none. Default: none',
  })
  @IsApiKeyDescription()
  description?: string | null;

  @ApiPropertyOptional({
    ...API_KEY_METADATA_PROPERTY,
    description: `Labels as in PATCH. ${API_KEY_METADATA_PROPERTY.description} Default: {}`,
  })
  @IsApiKeyMetadataObject()
  metadata?: ApiKeyMetadata;
}
