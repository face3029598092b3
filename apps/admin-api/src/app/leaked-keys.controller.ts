import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import {
  ApiBody,
  ApiExtraModels,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiSchema,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import {
  LEAKED_KEY_LABELS,
  LEAKED_KEY_REPORT_MAX_ENTRIES,
  LeakedKeyReportDto,
  LeakedKeyReportGuard,
  LeakedKeyReportPipe,
  LeakedKeysService,
  type LeakedKeyFeedback,
  type LeakedKeyLabel,
} from '@gatehouse/api-keys';
import { API_KEY_PATTERN } from '@gatehouse/crypto';
import { ApiErrors, JSON_BODY_ERRORS } from '@gatehouse/http';

@ApiSchema({
  name: 'LeakedKeyFeedback',
  description: "The verdict on one reported token, in the format of GitHub's secret scanning partner program",
})
class LeakedKeyFeedbackSchema implements LeakedKeyFeedback {
  @ApiProperty({ description: 'The token as reported' })
  token_raw!: string;

  @ApiProperty({ description: 'The `type` of the report, or an empty string', example: 'gatehouse_api_key' })
  token_type!: string;

  @ApiProperty({
    enum: LEAKED_KEY_LABELS,
    description:
      'true_positive: a Gatehouse key that worked until this report, now revoked. false_positive: anything else ' +
      '(not a Gatehouse key, unknown, already revoked, deleted or expired, or a secret retired by a rotation)',
  })
  label!: LeakedKeyLabel;
}

@ApiTags('api-keys')
@ApiExtraModels(LeakedKeyReportDto)
@Controller('api/v1/leaked-keys')
export class LeakedKeysController {
  constructor(private readonly leakedKeys: LeakedKeysService) {}

  @Post()
  @HttpCode(200)
  @UseGuards(LeakedKeyReportGuard)
  @ApiOperation({
    operationId: 'reportLeakedKeys',
    summary: 'Report leaked API keys: each one that still works is revoked at once',
    description:
      "For secret scanners, in the format of GitHub's secret scanning partner program. The report must be " +
      'signed by a reporter key configured in LEAKED_KEY_REPORTER_PUBLIC_KEYS: an ECDSA P-256 / SHA-256 ' +
      'signature over the exact body; nothing about the tokens is looked at before it verifies. Every working ' +
      'key among the tokens is revoked (in any organization) and its tokens refused on every node; the ' +
      "organization's audit trail records api_key.leaked (with the URL) and api_key.revoked. A token reported " +
      `twice is answered once. Keys match ${API_KEY_PATTERN.source}.`,
    // No credential of the caller's own: the signature headers below, made anew for each body, are the proof.
    security: [],
  })
  @ApiHeader({
    name: 'GITHUB-PUBLIC-KEY-IDENTIFIER',
    required: true,
    description: 'key_identifier of the reporter key that signed the body',
  })
  @ApiHeader({
    name: 'GITHUB-PUBLIC-KEY-SIGNATURE',
    required: true,
    description: 'Base64 of the ASN.1 DER ECDSA P-256 signature (SHA-256) over the exact request body',
  })
  @ApiBody({
    required: true,
    schema: {
      type: 'array',
      maxItems: LEAKED_KEY_REPORT_MAX_ENTRIES,
      items: { $ref: getSchemaPath(LeakedKeyReportDto) },
    },
  })
  @ApiOkResponse({
    type: LeakedKeyFeedbackSchema,
    isArray: true,
    description: 'One verdict per distinct token, in the order of the report',
  })
  @ApiErrors('invalid_signature', ...JSON_BODY_ERRORS, 'service_unavailable')
  report(
    @Body(LeakedKeyReportPipe) reports: LeakedKeyReportDto[],
    @Req() request: { ip?: string; id?: string },
  ): Promise<LeakedKeyFeedback[]> {
    return this.leakedKeys.report(reports, { ip: request.ip ?? null, requestId: request.id ?? null });
  }
}
