import { IsString, Length, Matches } from 'class-validator';

export const CLIENT_ID_PATTERN = /^[A-Za-z0-9._-]{3,50}$/;

export class AuthenticateClientDto {
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
