import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { MeService, MeView } from '@gatehouse/api-keys';
import { Authorize, CurrentPrincipal } from '@gatehouse/auth';
import type { Principal } from '@gatehouse/contracts';
import { ApiErrors, BEARER_AUTH, BEARER_ERRORS } from '@gatehouse/http';

@ApiTags('me')
@ApiBearerAuth(BEARER_AUTH)
@Controller('api/v1/me')
export class MeController {
  constructor(private readonly me: MeService) {}

  @Get()
  // No permission: whoever holds a valid token may learn what it is and what it may do.
  @Authorize()
  @ApiOperation({
    operationId: 'getMe',
    summary: 'Who the caller is',
    description:
      'Any valid token: a dashboard user (role and its permissions) or an API key (its permissions, no role). ' +
      'The organization is the one the token names.',
  })
  @ApiOkResponse({ type: MeView, description: 'The caller' })
  @ApiErrors(...BEARER_ERRORS)
  get(@CurrentPrincipal() principal: Principal): Promise<MeView> {
    return this.me.describe(principal);
  }
}
