import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { Authorize, CurrentPrincipal } from '@gatehouse/auth';
import type { Principal } from '@gatehouse/contracts';
import {
  FindingsService,
  IngestFindingsDto,
  ListFindingsDto,
  type FindingView,
  type IngestResult,
} from '@gatehouse/findings';

@Controller('api/v1/findings')
export class FindingsController {
  constructor(private readonly findings: FindingsService) {}

  @Post()
  @HttpCode(201)
  @Authorize('write:findings')
  ingest(@CurrentPrincipal() principal: Principal, @Body() body: IngestFindingsDto): Promise<IngestResult> {
    return this.findings.ingest(principal, body);
  }

  @Get()
  @Authorize('read:findings')
  list(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListFindingsDto,
  ): Promise<{ data: FindingView[]; next_cursor: string | null }> {
    return this.findings.list(principal, query);
  }
}
