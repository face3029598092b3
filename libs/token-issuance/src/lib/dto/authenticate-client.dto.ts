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
