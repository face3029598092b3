import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  actorOf,
  ApiKeysService,
  CreateApiKeyDto,
  ListApiKeysDto,
  type ApiKeyPage,
  type ApiKeyView,
  type CreatedApiKeyView,
} from '@gatehouse/api-keys';
import { Authorize, CurrentPrincipal } from '@gatehouse/auth';
import type { Principal } from '@gatehouse/contracts';

@Controller('api/v1/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @HttpCode(201)
  @Authorize('write:keys')
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateApiKeyDto,
  ): Promise<CreatedApiKeyView> {
    return this.apiKeys.create(actorOf(principal), body);
  }

  @Get()
  @Authorize('read:keys')
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListApiKeysDto): Promise<ApiKeyPage> {
    return this.apiKeys.list(principal.organizationId, query);
  }

  @Get(':id')
  @Authorize('read:keys')
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<ApiKeyView> {
    return this.apiKeys.get(principal.organizationId, id);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @Authorize('write:keys')
  revoke(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<ApiKeyView> {
    return this.apiKeys.revoke(actorOf(principal), id);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('write:keys')
  remove(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<void> {
    return this.apiKeys.delete(actorOf(principal), id);
  }
}
