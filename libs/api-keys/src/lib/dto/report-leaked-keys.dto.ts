import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsOptional, IsString, Length, MaxLength } from 'class-validator';

/** Entries per report: a batch from a scanner is far smaller; more is refused with 413 before any lookup. */
export const LEAKED_KEY_REPORT_MAX_ENTRIES = 1000;
export const LEAKED_TOKEN_MAX_LENGTH = 1024;
export const LEAKED_TOKEN_TYPE_MAX_LENGTH = 200;
export const LEAKED_URL_MAX_LENGTH = 2048;
export const LEAKED_SOURCE_MAX_LENGTH = 100;

/**
 * One match of a secret scanner, in the format of GitHub's secret scanning partner program. Only `token` is
 * required; fields GitHub may add later are dropped, not refused (see LeakedKeyReportPipe).
 */
@ApiSchema({
  name: 'LeakedKeyReport',
  description:
    "One string a secret scanner found in public, as GitHub's secret scanning partner program sends it",
})
export class LeakedKeyReportDto {
  @ApiProperty({
    description: 'The string that matched the registered pattern: possibly a Gatehouse API key',
    minLength: 1,
    maxLength: LEAKED_TOKEN_MAX_LENGTH,
    example: 'gth_live_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg012345',
  })
  @IsString()
  @Length(1, LEAKED_TOKEN_MAX_LENGTH)
  token!: string;

  @ApiPropertyOptional({
    description: 'Name of the pattern that matched, echoed back as `token_type`',
    maxLength: LEAKED_TOKEN_TYPE_MAX_LENGTH,
    example: 'gatehouse_api_key',
  })
  @IsOptional()
  @IsString()
  @MaxLength(LEAKED_TOKEN_TYPE_MAX_LENGTH)
  type?: string;

  @ApiPropertyOptional({
    description: 'Where the token was found; recorded in the audit trail',
    maxLength: LEAKED_URL_MAX_LENGTH,
    example: 'https://github.com/octo-org/octo-repo/blob/2b1c3f0/config/.env#L3',
  })
  @IsOptional()
  @IsString()
  @MaxLength(LEAKED_URL_MAX_LENGTH)
  url?: string;

  @ApiPropertyOptional({
    description: 'What kind of place it was found in (content, commit, issue_comment, ...)',
    maxLength: LEAKED_SOURCE_MAX_LENGTH,
    example: 'content',
  })
  @IsOptional()
  @IsString()
  @MaxLength(LEAKED_SOURCE_MAX_LENGTH)
  source?: string;
}
