import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';

export const CLIENT_ID_PATTERN = /^[A-Za-z0-9._-]{3,50}$/;

export class AuthenticateClientDto {
  @ApiProperty({
    description: 'The client_id registered with the API key sent in X-API-Key',
    minLength: 3,
    maxLength: 50,
    pattern: CLIENT_ID_PATTERN.source,
    example: 'ci-pipeline',
  })
  @IsString()
  @Length(3, 50)
  @Matches(CLIENT_ID_PATTERN, { message: 'client_id may contain only letters, digits, ".", "-" and "_"' })
  client_id!: string;
}

export interface AccessTokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  client_id: string;
  api_key_id: string;
}

/**
 * The client_id of a body that {@link AuthenticateClientDto} accepts as it is (an object with a valid `client_id`
 * and nothing else), else undefined. Accepts nothing the DTO's validation refuses, so a caller may skip that
 * validation for what this accepts (class-transformer and class-validator cost tens of µs per request) and run
 * it for everything else, where its messages are wanted.
 */
export function acceptedClientIdOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'client_id') return undefined;
  const clientId: unknown = (body as { client_id: unknown }).client_id;
  // The pattern bounds the length too (3 to 50), as @Length does.
  return typeof clientId === 'string' && CLIENT_ID_PATTERN.test(clientId) ? clientId : undefined;
}
