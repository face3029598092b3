import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import {
  FINDING_EVENTS,
  FINDING_STATES,
  SEVERITIES,
  type FindingEvent,
  type FindingState,
  type Severity,
} from '../findings.constants';

const DATE_TIME = { type: 'string', format: 'date-time' } as const;
const NULLABLE_DATE_TIME = { ...DATE_TIME, nullable: true } as const;
const NULLABLE_UUID = { type: 'string', format: 'uuid', nullable: true } as const;

/** At most this many history entries come with a finding: the newest ones (`history_total` counts them all). */
export const FINDING_HISTORY_MAX = 100;
/** At most this many groups in a summary: the ones with the most open findings. */
export const FINDING_SUMMARY_GROUPS_MAX = 1000;

@ApiSchema({ name: 'FindingLocation', description: 'Where in the repository the finding is' })
export class FindingLocationResponseDto {
  @ApiProperty({ description: 'File path, relative to the repository where known', example: 'src/config.ts' })
  path!: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, example: 12 })
  start_line?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, example: 14 })
  end_line?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, example: 7 })
  start_column?: number;
}

@ApiSchema({
  name: 'FindingRule',
  description:
    'What the scanner says about the rule that matched (SARIF `tool.driver.rules`); empty when it said nothing',
})
export class FindingRuleResponseDto {
  @ApiProperty({ type: 'string', nullable: true, example: 'Hard-coded credentials' })
  name!: string | null;

  @ApiProperty({ type: 'string', nullable: true, description: 'The rule’s help text (SARIF `help.text`)' })
  help!: string | null;

  @ApiProperty({ type: 'string', nullable: true, example: 'https://cwe.mitre.org/data/definitions/798.html' })
  help_uri!: string | null;

  @ApiProperty({ type: 'string', isArray: true, example: ['security', 'external/cwe/cwe-798'] })
  tags!: string[];

  @ApiProperty({
    type: 'string',
    isArray: true,
    description: 'CWE ids found in the rule’s tags',
    example: ['CWE-798'],
  })
  cwe!: string[];
}

@ApiSchema({
  name: 'Finding',
  description:
    'One finding, unique per repository, ref and identity: every scan of that repository and ref that reports ' +
    'it again updates it instead of adding another',
})
export class FindingResponseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

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
    description: 'The scanner that reported it',
    example: 'semgrep',
  })
  tool!: string | null;

  @ApiProperty({ example: 'javascript.lang.security.hardcoded-secret' })
  rule_id!: string;

  @ApiProperty({ type: () => FindingRuleResponseDto })
  rule!: FindingRuleResponseDto;

  @ApiProperty({ example: 'Hard-coded secret' })
  title!: string;

  @ApiProperty({ enum: SEVERITIES, example: 'high' })
  severity!: Severity;

  @ApiProperty({
    enum: FINDING_STATES,
    description:
      '`open` from first sight; `fixed` once a later completed scan of the same repository, ref and tool no ' +
      'longer reports it; `open` again if it comes back',
  })
  state!: FindingState;

  @ApiProperty({
    type: () => FindingLocationResponseDto,
    nullable: true,
    description: 'null when the scanner gave none',
  })
  location!: FindingLocationResponseDto | null;

  @ApiProperty({ type: 'string', nullable: true, description: 'The scanner’s message' })
  description!: string | null;

  @ApiProperty({ type: 'string', nullable: true, description: 'The native upload’s `fingerprint`, as given' })
  fingerprint!: string | null;

  @ApiProperty({
    description:
      'sha256 (hex) of what identifies the finding from scan to scan: SARIF fingerprints, else partial ' +
      'fingerprints, else the native fingerprint, else tool, rule, path and snippet or line (see docs/FINDINGS.md)',
    example: '3b5d5c3712955042212316173ccf37be800ca2b7f85b5ad0bcc09ac2ac2a8ee3',
  })
  identity!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'SARIF: level, security_severity, precision and kind as given; native: its `metadata`',
  })
  metadata!: Record<string, unknown> | null;

  @ApiProperty({ type: 'integer', minimum: 1, description: 'How many scans reported it' })
  occurrences!: number;

  @ApiProperty(DATE_TIME)
  first_seen_at!: string;

  @ApiProperty(DATE_TIME)
  last_seen_at!: string;

  @ApiProperty({ ...NULLABLE_DATE_TIME, description: 'When it was fixed; null while open' })
  fixed_at!: string | null;

  @ApiProperty({
    ...NULLABLE_UUID,
    description: 'The scan that reported it first; null for findings uploaded before scans existed',
  })
  first_scan_id!: string | null;

  @ApiProperty({ ...NULLABLE_UUID, description: 'The latest scan that reported it' })
  last_scan_id!: string | null;

  @ApiProperty({ ...NULLABLE_UUID, description: 'The scan that no longer reported it; null while open' })
  fixed_scan_id!: string | null;

  @ApiProperty({
    type: 'string',
    nullable: true,
    description:
      'client_id of the API key whose upload reported it first; null when a dashboard user uploaded it',
    example: 'ci-pipeline',
  })
  client_id!: string | null;
}

@ApiSchema({ name: 'FindingHistoryEntry', description: 'What one scan did to the finding' })
export class FindingHistoryEntryDto {
  @ApiProperty({ format: 'uuid' })
  scan_id!: string;

  @ApiProperty({
    enum: FINDING_EVENTS,
    description:
      '`new`: first reported; `seen`: reported again; `reopened`: reported again after a fix; `fixed`: no ' +
      'longer reported by a scan of its repository, ref and tool',
  })
  event!: FindingEvent;

  @ApiProperty({ ...DATE_TIME, description: 'When the scan was received' })
  at!: string;

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Commit the scan named; null when none',
    example: '9fceb02',
  })
  commit!: string | null;
}

@ApiSchema({ name: 'FindingDetail', description: 'A finding with its history' })
export class FindingDetailResponseDto extends FindingResponseDto {
  @ApiProperty({
    type: () => FindingHistoryEntryDto,
    isArray: true,
    maxItems: FINDING_HISTORY_MAX,
    description: `Newest first; at most the ${FINDING_HISTORY_MAX} newest entries (see history_total)`,
  })
  history!: FindingHistoryEntryDto[];

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: `Entries the finding has in all; more than ${FINDING_HISTORY_MAX} means history shows the newest only`,
  })
  history_total!: number;
}

@ApiSchema({ name: 'FindingPage', description: 'Newest first seen first' })
export class FindingPageDto {
  @ApiProperty({ type: () => FindingResponseDto, isArray: true })
  data!: FindingResponseDto[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as `cursor` (with the same filters) for the next page; null on the last',
  })
  next_cursor!: string | null;
}

@ApiSchema({ name: 'FindingStateCounts', description: 'Findings by state' })
export class FindingStateCountsDto {
  @ApiProperty({ type: 'integer', minimum: 0 })
  open!: number;

  @ApiProperty({ type: 'integer', minimum: 0 })
  fixed!: number;
}

@ApiSchema({
  name: 'FindingSeverityCounts',
  description: 'Findings by severity and state; every severity is present',
})
export class FindingSeverityCountsDto implements Record<Severity, FindingStateCountsDto> {
  @ApiProperty({ type: () => FindingStateCountsDto })
  critical!: FindingStateCountsDto;

  @ApiProperty({ type: () => FindingStateCountsDto })
  high!: FindingStateCountsDto;

  @ApiProperty({ type: () => FindingStateCountsDto })
  medium!: FindingStateCountsDto;

  @ApiProperty({ type: () => FindingStateCountsDto })
  low!: FindingStateCountsDto;

  @ApiProperty({ type: () => FindingStateCountsDto })
  info!: FindingStateCountsDto;
}

@ApiSchema({
  name: 'FindingSummaryGroup',
  description: 'The counts of one repository or tool; the field named by `group_by` is present',
})
export class FindingSummaryGroupDto {
  @ApiPropertyOptional({
    type: 'string',
    nullable: true,
    description: 'With group_by=repository; null for findings of uploads that named no repository',
  })
  repository?: string | null;

  @ApiPropertyOptional({
    type: 'string',
    nullable: true,
    description: 'With group_by=tool; null for findings whose scanner was not named',
  })
  tool?: string | null;

  @ApiProperty({ type: () => FindingStateCountsDto })
  total!: FindingStateCountsDto;

  @ApiProperty({ type: () => FindingSeverityCountsDto })
  by_severity!: FindingSeverityCountsDto;
}

@ApiSchema({
  name: 'FindingSummary',
  description: 'Counts of the organization’s findings by severity and state',
})
export class FindingSummaryResponseDto {
  @ApiProperty({ type: () => FindingStateCountsDto })
  total!: FindingStateCountsDto;

  @ApiProperty({ type: () => FindingSeverityCountsDto })
  by_severity!: FindingSeverityCountsDto;

  @ApiPropertyOptional({
    type: () => FindingSummaryGroupDto,
    isArray: true,
    description:
      'With group_by only: one entry per repository or tool, most open findings first (then most fixed, then ' +
      `by name); at most the first ${FINDING_SUMMARY_GROUPS_MAX}, see groups_truncated`,
  })
  groups?: FindingSummaryGroupDto[];

  @ApiPropertyOptional({ description: 'With group_by only: true when there were more groups than shown' })
  groups_truncated?: boolean;
}
