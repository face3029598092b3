import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length, MaxLength, ValidateBy, ValidateIf } from 'class-validator';
import { API_KEY_NAME_MAX } from './create-api-key.dto';

export const API_KEY_DESCRIPTION_MAX = 500;
export const API_KEY_METADATA_ENTRIES_MAX = 20;
export const API_KEY_METADATA_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;
export const API_KEY_METADATA_VALUE_MAX = 200;

export type ApiKeyMetadata = Record<string, string>;

/** Why a value is not acceptable metadata, or null when it is. */
export function metadataProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'metadata must be a JSON object';
  }
  const entries = Object.entries(value);
  if (entries.length > API_KEY_METADATA_ENTRIES_MAX) {
    return `metadata may have at most ${API_KEY_METADATA_ENTRIES_MAX} entries`;
  }
  for (const [key, entry] of entries) {
    if (!API_KEY_METADATA_KEY.test(key)) {
      return (
        'each metadata key must be 1–40 characters of letters, digits, ".", "-" and "_", starting with a ' +
        'letter or digit'
      );
    }
    // Flat on purpose: a dashboard shows it as a table, and nothing nested can grow past the limits unseen.
    if (typeof entry !== 'string') return `metadata.${key} must be a string`;
    if (entry.length > API_KEY_METADATA_VALUE_MAX) {
      return `metadata.${key} must be at most ${API_KEY_METADATA_VALUE_MAX} characters`;
    }
  }
  return null;
}

function IsApiKeyMetadata(): PropertyDecorator {
  return ValidateBy({
    name: 'isApiKeyMetadata',
    validator: {
      validate: (value: unknown) => metadataProblem(value) === null,
      defaultMessage: (args) => metadataProblem(args?.value) ?? 'metadata is invalid',
    },
  });
}

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
    type: 'string',
    nullable: true,
    description: 'Free text for people; null or an empty string removes it',
    maxLength: API_KEY_DESCRIPTION_MAX,
    example: 'Deploys the main branch to production',
  })
  // null is a value here (it clears the description), so only an absent field is skipped.
  @ValidateIf((_dto: UpdateApiKeyDto, value: unknown) => value !== undefined && value !== null)
  @IsString()
  @MaxLength(API_KEY_DESCRIPTION_MAX)
  description?: string | null;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: API_KEY_METADATA_VALUE_MAX },
    maxProperties: API_KEY_METADATA_ENTRIES_MAX,
    description:
      `Replaces the whole object ({} removes every entry). Flat: at most ${API_KEY_METADATA_ENTRIES_MAX} ` +
      'entries, each key 1–40 characters of letters, digits, ".", "-" and "_" (starting with a letter or digit), ' +
      `each value a string of at most ${API_KEY_METADATA_VALUE_MAX} characters.`,
    example: { team: 'platform', ticket: 'OPS-1234' },
  })
  // null is refused rather than skipped: {} is how metadata is cleared.
  @ValidateIf((_dto: UpdateApiKeyDto, value: unknown) => value !== undefined)
  @IsApiKeyMetadata()
  metadata?: ApiKeyMetadata;
}
