import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length, ValidateIf } from 'class-validator';
import {
  API_KEY_DESCRIPTION_PROPERTY,
  API_KEY_METADATA_PROPERTY,
  IsApiKeyDescription,
  IsApiKeyMetadataObject,
  type ApiKeyMetadata,
} from './api-key-labels';
import { API_KEY_NAME_MAX } from './create-api-key.dto';

/** What PATCH changes: any of the three, at least one. Fields left out keep their value. */
export class UpdateApiKeyDto {
  @ApiPropertyOptional({
    description: 'A label for people; need not be unique',
    minLength: 1,
    maxLength: API_KEY_NAME_MAX,
    example: 'CI pipeline (main)',
  })
  // Only an absent field is left alone: null is no name, and no way to clear one.
  @ValidateIf((_dto: UpdateApiKeyDto, value: unknown) => value !== undefined)
  @IsString()
  @Length(1, API_KEY_NAME_MAX)
  name?: string;

  @ApiPropertyOptional({
    ...API_KEY_DESCRIPTION_PROPERTY,
    description: 'Free text for people; null or an empty string removes it',
  })
  // null is a value here (it clears the description), so only an absent field is skipped.
  @IsApiKeyDescription()
  description?: string | null;

  @ApiPropertyOptional({
    ...API_KEY_METADATA_PROPERTY,
    description: `Replaces the whole object ({} removes every entry). ${API_KEY_METADATA_PROPERTY.description}`,
  })
  // null is refused rather than skipped: {} is how metadata is cleared.
  @IsApiKeyMetadataObject()
  metadata?: ApiKeyMetadata;
}
