import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Authorize, CurrentPrincipal } from '@gatehouse/auth';
import type { Principal } from '@gatehouse/contracts';
import { FindingsQueryService, ListScansDto, ScanPageDto, ScanResponseDto } from '@gatehouse/findings';
import { ApiErrors, BEARER_AUTH, BEARER_ERRORS } from '@gatehouse/http';

@ApiTags('scans')
@ApiBearerAuth(BEARER_AUTH)
@Controller('api/v1/scans')
export class ScansController {
  constructor(private readonly findings: FindingsQueryService) {}

  @Get()
  @Authorize('read:findings')
  @ApiOperation({
    operationId: 'listScans',
    summary: "List the organization's scans",
    description: 'Needs read:findings. Newest received first, paged with `cursor`.',
  })
  @ApiOkResponse({ type: ScanPageDto })
  @ApiErrors(...BEARER_ERRORS, 'validation_failed')
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListScansDto): Promise<ScanPageDto> {
    return this.findings.listScans(principal.organizationId, query);
  }

  @Get(':id')
  @Authorize('read:findings')
  @ApiOperation({
    operationId: 'getScan',
    summary: 'One scan: status, counts, context, timing and errors',
    description: 'Needs read:findings. Another organization’s scan is 404.',
  })
  @ApiParam({
    name: 'id',
    format: 'uuid',
    description: 'scan_id of the upload’s answer; another organization’s id and malformed ids answer 404 too',
  })
  @ApiOkResponse({ type: ScanResponseDto })
  @ApiErrors(...BEARER_ERRORS, 'scan_not_found')
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<ScanResponseDto> {
    return this.findings.getScan(principal.organizationId, id);
  }
}
