import { applyDecorators } from '@nestjs/common';
import { IsString, MaxLength, ValidateBy, ValidateIf } from 'class-validator';

/**
 * A key's labels for people (description and metadata): one set of limits and validators, used by POST (create)
 * and PATCH (update) alike, so that a value one accepts the other accepts too.
 */
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

/** The OpenAPI schema of `description` in a request; each DTO says what null or an empty string does there. */
export const API_KEY_DESCRIPTION_PROPERTY = {
  type: 'string',
  nullable: true,
  maxLength: API_KEY_DESCRIPTION_MAX,
  example: 'Deploys the main branch to production',
} as const;

/** The OpenAPI schema of `metadata` in a request. */
export const API_KEY_METADATA_PROPERTY = {
  type: 'object',
  additionalProperties: { type: 'string', maxLength: API_KEY_METADATA_VALUE_MAX },
  maxProperties: API_KEY_METADATA_ENTRIES_MAX,
  description:
    `Flat: at most ${API_KEY_METADATA_ENTRIES_MAX} entries, each key 1–40 characters of letters, digits, ".", ` +
    `"-" and "_" (starting with a letter or digit), each value a string of at most ${API_KEY_METADATA_VALUE_MAX} ` +
    'characters.',
  example: { team: 'platform', ticket: 'OPS-1234' },
} as const;

/** Free text of at most API_KEY_DESCRIPTION_MAX characters; null (no description) and an absent field pass. */
export function IsApiKeyDescription(): PropertyDecorator {
  return applyDecorators(
    ValidateIf((_dto: object, value: unknown) => value !== undefined && value !== null),
    IsString(),
    MaxLength(API_KEY_DESCRIPTION_MAX),
  );
}

/** A flat object of strings within the limits above; an absent field passes, null does not ({} is "none"). */
export function IsApiKeyMetadataObject(): PropertyDecorator {
  return applyDecorators(
    ValidateIf((_dto: object, value: unknown) => value !== undefined),
    IsApiKeyMetadata(),
  );
}
