import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiSchema, getSchemaPath } from '@nestjs/swagger';
import { SCAN_FORMATS, SCAN_STATUSES, type ScanFormat, type ScanStatus } from '../findings.constants';

const DATE_TIME = { type: 'string', format: 'date-time' } as const;
const NULLABLE_DATE_TIME = { ...DATE_TIME, nullable: true } as const;

@ApiSchema({
  name: 'ScanTool',
  description: 'A scanner the upload declared (SARIF `tool.driver`, or the `tool` parameter)',
})
export class ScanToolDto {
  @ApiProperty({ example: 'semgrep' })
  name!: string;

  @ApiProperty({ type: 'string', nullable: true, example: '1.97.0' })
  version!: string | null;
}

@ApiSchema({ name: 'ScanError', description: 'Why a scan processed after its 202 answer failed' })
export class ScanErrorDto {
  @ApiProperty({
    description:
      'An error code of the upload (`invalid_sarif`, `malformed_json`, `limit_exceeded`, …), or ' +
      '`processing_failed` when processing was interrupted SCAN_MAX_ATTEMPTS times',
    example: 'invalid_sarif',
  })
  code!: string;

  @ApiProperty({ example: 'runs[1].results[17].locations: must be an array' })
  message!: string;

  @ApiPropertyOptional({
    description: 'As in the error body of the same refusal, e.g. `{ "pointer": "/runs/1" }`',
  })
  details?: unknown;
}

@ApiSchema({ name: 'ScanKeyUploader', description: 'An upload made with an API key' })
export class ScanKeyUploaderDto {
  @ApiProperty({ enum: ['api_key'] })
  kind!: 'api_key';

  @ApiProperty({ format: 'uuid' })
  api_key_id!: string;

  @ApiProperty({ type: 'string', nullable: true, example: 'ci-pipeline' })
  client_id!: string | null;
}

@ApiSchema({ name: 'ScanUserUploader', description: 'An upload made by a dashboard user' })
export class ScanUserUploaderDto {
  @ApiProperty({ enum: ['user'] })
  kind!: 'user';

  @ApiProperty({ description: 'The subject of the user’s token', example: 'auth0|5f7c' })
  user_id!: string;
}

export type ScanUploaderDto = ScanKeyUploaderDto | ScanUserUploaderDto;

@ApiExtraModels(ScanKeyUploaderDto, ScanUserUploaderDto)
@ApiSchema({ name: 'Scan', description: 'One upload of findings: its context, status, counts and timing' })
export class ScanResponseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({
    enum: SCAN_STATUSES,
    description:
      '`queued`: stored, waiting for a worker; `processing`; `completed`; `failed`: see `error`. Uploads ' +
      'processed in their request are `completed` by the time they can be read.',
  })
  status!: ScanStatus;

  @ApiProperty({ enum: SCAN_FORMATS, nullable: true, description: 'Known once processed' })
  format!: ScanFormat | null;

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'null when the upload named none',
    example: 'acme/payments',
  })
  repository!: string | null;

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'null when the upload named none',
    example: 'refs/heads/main',
  })
  ref!: string | null;

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'null when the upload named none',
    example: '9fceb02',
  })
  commit!: string | null;

  @ApiProperty({ type: () => ScanToolDto, isArray: true })
  tools!: ScanToolDto[];

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: 'Results read from the upload (0 until processed)',
  })
  results!: number;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Findings first seen in this scan' })
  new!: number;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Findings that were open and are reported again' })
  unchanged!: number;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: 'Open findings of the same repository, ref and tool that this scan no longer reports',
  })
  fixed!: number;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Fixed findings reported again' })
  reopened!: number;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: 'Size of the body as received (compressed if it was)',
  })
  received_bytes!: number;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: 'Processing attempts after a 202 answer (0 for uploads processed in their request)',
  })
  attempts!: number;

  @ApiProperty({ type: () => ScanErrorDto, nullable: true, description: 'Why it failed; null otherwise' })
  error!: ScanErrorDto | null;

  @ApiProperty({
    oneOf: [{ $ref: getSchemaPath(ScanKeyUploaderDto) }, { $ref: getSchemaPath(ScanUserUploaderDto) }],
    discriminator: {
      propertyName: 'kind',
      mapping: { api_key: getSchemaPath(ScanKeyUploaderDto), user: getSchemaPath(ScanUserUploaderDto) },
    },
    description: 'Who uploaded it',
  })
  uploaded_by!: ScanUploaderDto;

  @ApiProperty(DATE_TIME)
  received_at!: string;

  @ApiProperty({ ...NULLABLE_DATE_TIME, description: 'When processing (its latest attempt) started' })
  started_at!: string | null;

  @ApiProperty({ ...NULLABLE_DATE_TIME, description: 'When it completed or failed' })
  completed_at!: string | null;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    minimum: 0,
    description: 'completed_at − started_at in milliseconds; null until both are known',
  })
  duration_ms!: number | null;
}

@ApiSchema({ name: 'ScanPage', description: 'Newest received first' })
export class ScanPageDto {
  @ApiProperty({ type: () => ScanResponseDto, isArray: true })
  data!: ScanResponseDto[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as `cursor` (with the same filters) for the next page; null on the last',
  })
  next_cursor!: string | null;
}
