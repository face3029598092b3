import { Controller, Get, Header, HttpCode, Post, Req } from '@nestjs/common';
import {
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiSchema,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ACCESS_TOKEN_TTL_SECONDS, TOKEN_TYPE } from '@gatehouse/contracts';
import { API_KEY_AUTH, ApiErrors, createValidationPipe, JSON_BODY_ERRORS } from '@gatehouse/http';
import {
  acceptedClientIdOf,
  AuthenticateClientDto,
  PublishedKeys,
  TokenIssuanceService,
  type AccessTokenResponse,
} from '@gatehouse/token-issuance';

@ApiSchema({
  name: 'AccessToken',
  description: 'A short-lived access token, to send as Authorization: Bearer',
})
class AccessTokenSchema implements AccessTokenResponse {
  @ApiProperty({
    description: 'RS256-signed JWT',
    example: 'eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4ifQ.c2ln',
  })
  access_token!: string;

  @ApiProperty({ enum: [TOKEN_TYPE], example: TOKEN_TYPE })
  token_type!: typeof TOKEN_TYPE;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    maximum: ACCESS_TOKEN_TTL_SECONDS,
    description: 'Seconds until the token expires; less than the usual 1800 when the key expires sooner',
    example: ACCESS_TOKEN_TTL_SECONDS,
  })
  expires_in!: number;

  @ApiProperty({ example: 'ci-pipeline' })
  client_id!: string;

  @ApiProperty({ format: 'uuid', description: 'The API key the token was issued from' })
  api_key_id!: string;
}

@ApiSchema({ name: 'JsonWebKey', description: 'The public half of a signing key (RFC 7517)' })
class JsonWebKeySchema {
  @ApiProperty({ enum: ['RSA'] })
  kty!: string;

  @ApiProperty({ description: 'Matches the `kid` header of the tokens it verifies' })
  kid!: string;

  @ApiProperty({ enum: ['sig'] })
  use!: string;

  @ApiProperty({ enum: ['RS256'] })
  alg!: string;

  @ApiProperty({ description: 'RSA modulus, base64url' })
  n!: string;

  @ApiProperty({ description: 'RSA public exponent, base64url', example: 'AQAB' })
  e!: string;
}

@ApiSchema({ name: 'JsonWebKeySet', description: 'The keys access tokens are verified with (RFC 7517)' })
class JsonWebKeySetSchema {
  @ApiProperty({ type: () => JsonWebKeySchema, isArray: true })
  keys!: JsonWebKeySchema[];
}

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  /** The app's global validation, run here by hand for the bodies the fast check does not accept. */
  private readonly bodyValidation = createValidationPipe();

  constructor(
    private readonly tokens: TokenIssuanceService,
    private readonly publishedKeys: PublishedKeys,
  ) {}

  @Post('m2m/authenticate')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    operationId: 'authenticateClient',
    summary: 'Exchange an API key for an access token',
    description:
      'Send the API key in the X-API-Key header and the client_id registered with it in the body. During a ' +
      'rotation the previous secret keeps working until its grace period ends.',
  })
  @ApiSecurity(API_KEY_AUTH)
  @ApiOkResponse({ type: AccessTokenSchema, description: 'Sent with Cache-Control: no-store' })
  @ApiErrors(
    ...JSON_BODY_ERRORS,
    'missing_api_key',
    'invalid_api_key',
    'api_key_revoked',
    'key_expired',
    'client_id_mismatch',
    'api_key_not_found',
    'service_unavailable',
  )
  // The request alone, no parameter decorators: the body of a request for a token is checked by
  // acceptedClientIdOf in well under a µs, and only a body it does not accept goes through the global validation
  // (class-transformer and class-validator, tens of µs), for the very same answer. Headers, address and request
  // id are read as @Headers, @ClientIp and @RequestId would, without a pipe run each.
  @ApiBody({ type: AuthenticateClientDto })
  authenticate(@Req() request: FastifyRequest): Promise<AccessTokenResponse> {
    const clientId = acceptedClientIdOf(request.body);
    if (clientId === undefined) return this.authenticateValidated(request);
    return this.issue(request, clientId);
  }

  private async authenticateValidated(request: FastifyRequest): Promise<AccessTokenResponse> {
    const body = (await this.bodyValidation.transform(request.body, {
      type: 'body',
      metatype: AuthenticateClientDto,
    })) as AuthenticateClientDto;
    return this.issue(request, body.client_id);
  }

  private issue(request: FastifyRequest, clientId: string): Promise<AccessTokenResponse> {
    const apiKey = request.headers['x-api-key'];
    return this.tokens.authenticate({
      apiKey: typeof apiKey === 'string' ? apiKey : undefined,
      clientId,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      requestId: request.id,
    });
  }

  @Get('jwks')
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOperation({
    operationId: 'getJwks',
    summary: 'Public keys that verify access tokens',
    description:
      'For services that verify tokens themselves; cacheable for five minutes. Needs no credential.',
    // Public, and said so: an operation without `security` would leave the reader to guess.
    security: [],
  })
  @ApiOkResponse({ type: JsonWebKeySetSchema, description: 'Sent with Cache-Control: public, max-age=300' })
  // Every route refuses a query string with NUL characters or unpaired surrogates (safe-input.ts).
  @ApiErrors('validation_failed')
  jwks(): { keys: unknown[] } {
    return this.publishedKeys.jwks;
  }
}
