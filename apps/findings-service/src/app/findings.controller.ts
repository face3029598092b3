import { Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authorize, CurrentPrincipal } from '@gatehouse/auth';
import type { Principal } from '@gatehouse/contracts';
import {
  FindingDetailResponseDto,
  FindingPageDto,
  FindingsQueryService,
  FindingSummaryResponseDto,
  IngestFindingsDto,
  ListFindingsDto,
  SARIF_MEDIA_TYPE,
  ScanIngestService,
  ScanSummaryDto,
  SummarizeFindingsDto,
  UploadScanQueryDto,
} from '@gatehouse/findings';
import { ApiErrors, BEARER_AUTH, BEARER_ERRORS } from '@gatehouse/http';
import { sendUploadAnswer, uploadOf } from './upload-request';

@ApiTags('findings')
@ApiBearerAuth(BEARER_AUTH)
@ApiExtraModels(IngestFindingsDto)
@Controller('api/v1/findings')
export class FindingsController {
  constructor(
    private readonly ingest: ScanIngestService,
    private readonly findings: FindingsQueryService,
  ) {}

  @Post()
  @HttpCode(201)
  @Authorize('write:findings')
  @ApiOperation({
    operationId: 'uploadFindings',
    summary: 'Upload a scan: SARIF 2.1.0 or the native JSON, optionally gzip',
    description:
      'Needs write:findings. The body is SARIF 2.1.0 (`application/sarif+json`, or `application/json` with ' +
      '`version` "2.1.0" and `runs`) or the native `{findings: [...]}`, optionally `Content-Encoding: gzip`. ' +
      'Limits: SCAN_MAX_UPLOAD_BYTES as received (10 MiB), SCAN_MAX_DECOMPRESSED_BYTES (256 MiB), SCAN_MAX_RUNS ' +
      '(20), SCAN_MAX_RESULTS_PER_RUN (25 000). Known findings are updated, never duplicated; open findings of ' +
      'the same repository, ref and tool that the scan no longer reports become fixed. Small uploads are ' +
      'processed in the request (201); larger ones, or with `Prefer: respond-async`, are stored and answered ' +
      '202 with `Location` (see GET /api/v1/scans/{id}). Everything of a scan is stored or none of it is.',
  })
  @ApiConsumes('application/json', SARIF_MEDIA_TYPE)
  @ApiBody({
    description: 'A SARIF 2.1.0 log (https://json.schemastore.org/sarif-2.1.0.json) or the native format',
    schema: {
      oneOf: [
        { $ref: getSchemaPath(IngestFindingsDto) },
        {
          type: 'object',
          title: 'SARIF 2.1.0',
          required: ['version', 'runs'],
          properties: {
            $schema: { type: 'string' },
            version: { type: 'string', enum: ['2.1.0'] },
            runs: { type: 'array', maxItems: 20, items: { type: 'object' } },
          },
        },
      ],
    },
  })
  @ApiHeader({
    name: 'Content-Encoding',
    required: false,
    description: '`gzip` or absent',
    schema: { type: 'string', enum: ['gzip', 'identity'] },
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Retry safely: the same key with the same request within 24 h returns the first answer again ' +
      '(`Idempotent-Replayed: true`) and stores nothing; with a different request → 422; while the first is ' +
      'still processed → 409.',
    schema: { type: 'string', minLength: 1, maxLength: 255 },
  })
  @ApiHeader({
    name: 'Prefer',
    required: false,
    description: '`respond-async`: store and answer 202 whatever the size',
    schema: { type: 'string' },
  })
  @ApiCreatedResponse({ type: ScanSummaryDto, description: 'Processed in the request' })
  @ApiAcceptedResponse({
    type: ScanSummaryDto,
    description: 'Stored; processed after this answer',
    headers: { Location: { description: '/api/v1/scans/{scan_id}', schema: { type: 'string' } } },
  })
  @ApiErrors(
    ...BEARER_ERRORS,
    'validation_failed',
    'invalid_sarif',
    'malformed_json',
    'bad_request',
    'payload_too_large',
    'unsupported_media_type',
    'limit_exceeded',
    'idempotency_key_reused',
    'idempotency_in_progress',
  )
  async upload(
    @CurrentPrincipal() principal: Principal,
    @Query() query: UploadScanQueryDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ScanSummaryDto> {
    const upload = uploadOf(request, query);
    return sendUploadAnswer(reply, upload, await this.ingest.receive(principal, upload));
  }

  @Get()
  @Authorize('read:findings')
  @ApiOperation({
    operationId: 'listFindings',
    summary: "List the organization's findings",
    description:
      'Needs read:findings (dashboard users: viewer and up). Newest first seen first (ties by id), paged with ' +
      '`cursor`. Filters combine: state, severity (repeat it or separate with commas), tool, rule, repository, ref, ' +
      'path_prefix (literal), scan (findings that scan reported), first_seen_after (inclusive) and ' +
      'first_seen_before (exclusive).',
  })
  @ApiOkResponse({ type: FindingPageDto })
  @ApiErrors(...BEARER_ERRORS, 'validation_failed')
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListFindingsDto): Promise<FindingPageDto> {
    return this.findings.listFindings(principal.organizationId, query);
  }

  @Get('summary')
  @Authorize('read:findings')
  @ApiOperation({
    operationId: 'summarizeFindings',
    summary: 'Count findings by severity and state',
    description:
      'Needs read:findings. Every severity is always present. With group_by=repository or tool, also one entry ' +
      'per value, most open findings first, at most 1000 (groups_truncated says when there were more).',
  })
  @ApiOkResponse({ type: FindingSummaryResponseDto })
  @ApiErrors(...BEARER_ERRORS, 'validation_failed')
  summarize(
    @CurrentPrincipal() principal: Principal,
    @Query() query: SummarizeFindingsDto,
  ): Promise<FindingSummaryResponseDto> {
    return this.findings.summarize(principal.organizationId, query);
  }

  @Get(':id')
  @Authorize('read:findings')
  @ApiOperation({
    operationId: 'getFinding',
    summary: 'One finding with its history',
    description:
      'Needs read:findings. History: newest first, the 100 newest entries (history_total counts all). Another ' +
      'organization’s finding is 404.',
  })
  @ApiParam({
    name: 'id',
    format: 'uuid',
    description: 'Id of the finding; another organization’s id and malformed ids answer 404 too',
  })
  @ApiOkResponse({ type: FindingDetailResponseDto })
  @ApiErrors(...BEARER_ERRORS, 'finding_not_found')
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<FindingDetailResponseDto> {
    return this.findings.getFinding(principal.organizationId, id);
  }
}
