import { Body, Controller, Get, Header, Headers, HttpCode, Post } from '@nestjs/common';
import { ClientIp } from '@gatehouse/auth';
import {
  AuthenticateClientDto,
  PublishedKeys,
  TokenIssuanceService,
  type AccessTokenResponse,
} from '@gatehouse/token-issuance';

@Controller('api/v1/auth')
export class AuthController {
  constructor(
    private readonly tokens: TokenIssuanceService,
    private readonly publishedKeys: PublishedKeys,
  ) {}

  @Post('m2m/authenticate')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  authenticate(
    @Headers('x-api-key') apiKey: string | undefined,
    @Body() body: AuthenticateClientDto,
    @ClientIp() ip: string,
  ): Promise<AccessTokenResponse> {
    return this.tokens.authenticate({ apiKey, clientId: body.client_id, ip });
  }

  @Get('jwks')
  @Header('Cache-Control', 'public, max-age=300')
  jwks(): { keys: unknown[] } {
    return this.publishedKeys.jwks;
  }
}
