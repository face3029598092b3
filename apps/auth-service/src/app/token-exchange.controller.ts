import { Controller, Header, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { ClientIp, RequestId } from '@gatehouse/auth';
import { TokenIssuanceService, type AccessTokenResponse } from '@gatehouse/token-issuance';

/**
 * Direct key authentication: the gateway exchanges an API key sent to the API (findings, keys, audit) for a token
 * here, with the key alone. Not a public route: the gateway never forwards `/internal`, and it stays out of the
 * published OpenAPI document. It grants nothing beyond what the key itself grants through the gateway.
 */
@ApiExcludeController()
@Controller('internal/v1')
export class TokenExchangeController {
  constructor(private readonly tokens: TokenIssuanceService) {}

  @Post('token-exchange')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  exchange(
    @Headers('x-api-key') apiKey: string | undefined,
    @ClientIp() ip: string,
    @Headers('user-agent') userAgent: string | undefined,
    @RequestId() requestId: string,
  ): Promise<AccessTokenResponse> {
    return this.tokens.authenticate({ apiKey, clientId: null, ip, userAgent, requestId });
  }
}
