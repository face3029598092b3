import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiSchema,
  ApiTags,
} from '@nestjs/swagger';
import { Authorize, CurrentPrincipal } from '@gatehouse/auth';
import type { KeyPrincipal } from '@gatehouse/contracts';
import {
  FindingLocationDto,
  FindingsService,
  IngestFindingsDto,
  ListFindingsDto,
  type FindingView,
  type IngestResult,
} from '@gatehouse/findings';
import { ApiErrors, BEARER_AUTH, BEARER_ERRORS, JSON_BODY_ERRORS } from '@gatehouse/http';
import { SEVERITIES, type Severity } from '@gatehouse/persistence';

@ApiSchema({ name: 'Finding', description: 'A stored finding' })
class FindingSchema implements FindingView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'hardcoded-secret' })
  rule_id!: string;

  @ApiProperty({ example: 'Hard-coded secret' })
  title!: string;

  @ApiProperty({ enum: SEVERITIES, example: 'high' })
  severity!: Severity;

  @ApiProperty({ type: () => FindingLocationDto })
  location!: FindingLocationDto;

  @ApiProperty({ type: 'string', nullable: true })
  description!: string | null;

  @ApiProperty({ type: 'string', nullable: true, example: 'gitleaks' })
  tool!: string | null;

  @ApiProperty({ type: 'string', nullable: true })
  fingerprint!: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true })
  metadata!: Record<string, unknown> | null;

  @ApiProperty({ description: 'client_id of the key whose token uploaded it', example: 'ci-pipeline' })
  client_id!: string;

  @ApiProperty({ type: 'string', format: 'date-time' })
  created_at!: string;
}

@ApiSchema({ name: 'IngestFindingsResult' })
class IngestResultSchema implements IngestResult {
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    description: 'How many findings were stored: all of the upload',
  })
  accepted!: number;

  @ApiProperty({ type: () => FindingSchema, isArray: true })
  findings!: FindingSchema[];
}

@ApiSchema({ name: 'FindingPage', description: 'Newest first' })
class FindingPageSchema {
  @ApiProperty({ type: () => FindingSchema, isArray: true })
  data!: FindingSchema[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as `cursor` for the next page; null on the last',
  })
  next_cursor!: string | null;
}

@ApiTags('findings')
@ApiBearerAuth(BEARER_AUTH)
@Controller('api/v1/findings')
export class FindingsController {
  constructor(private readonly findings: FindingsService) {}

  @Post()
  @HttpCode(201)
  @Authorize('write:findings')
  @ApiOperation({
    operationId: 'ingestFindings',
    summary: 'Upload findings',
    description: 'Needs write:findings. The whole upload is stored in one statement, or none of it.',
  })
  @ApiCreatedResponse({ type: IngestResultSchema, description: 'Every finding of the upload, as stored' })
  @ApiErrors(...BEARER_ERRORS, ...JSON_BODY_ERRORS)
  ingest(
    @CurrentPrincipal() principal: KeyPrincipal,
    @Body() body: IngestFindingsDto,
  ): Promise<IngestResult> {
    return this.findings.ingest(principal, body);
  }

  @Get()
  @Authorize('read:findings')
  @ApiOperation({
    operationId: 'listFindings',
    summary: "List the organization's findings",
    description: 'Needs read:findings. Newest first, paged with `cursor`.',
  })
  @ApiOkResponse({ type: FindingPageSchema, description: 'One page of findings' })
  @ApiErrors(...BEARER_ERRORS, 'validation_failed')
  list(
    @CurrentPrincipal() principal: KeyPrincipal,
    @Query() query: ListFindingsDto,
  ): Promise<{ data: FindingView[]; next_cursor: string | null }> {
    return this.findings.list(principal, query);
  }
}
