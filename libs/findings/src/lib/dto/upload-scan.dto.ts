import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { SCAN_STATUSES, type ScanStatus } from '../findings.constants';

/** The scan's context; each given value overrides what the SARIF declares (versionControlProvenance, tool.driver). */
export class UploadScanQueryDto {
  @ApiPropertyOptional({
    description: 'Repository scanned, e.g. `acme/payments` or its URL (trailing `/` and `.git` dropped)',
    minLength: 1,
    maxLength: 500,
    example: 'acme/payments',
  })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  repository?: string;

  @ApiPropertyOptional({ description: 'Commit scanned', minLength: 1, maxLength: 200, example: '9fceb02' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  commit?: string;

  @ApiPropertyOptional({
    description: 'Branch, tag or pull request ref scanned',
    minLength: 1,
    maxLength: 500,
    example: 'refs/heads/main',
  })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  ref?: string;

  @ApiPropertyOptional({
    description: 'Scanner name; for SARIF it replaces every run’s `tool.driver.name`',
    minLength: 1,
    maxLength: 200,
    example: 'semgrep',
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  tool?: string;
}

/** The answer to an upload: what the scan did, never an echo of its findings. */
export class ScanSummaryDto {
  @ApiProperty({ format: 'uuid', description: 'GET /api/v1/scans/{scan_id} shows it' })
  scan_id!: string;

  @ApiProperty({ enum: SCAN_STATUSES, description: '`completed` (201) or `queued` (202)' })
  status!: ScanStatus;

  @ApiProperty({ type: 'integer', description: 'Results read from the upload (0 while queued)' })
  results!: number;

  @ApiProperty({ type: 'integer', description: 'Findings first seen in this scan' })
  new!: number;

  @ApiProperty({ type: 'integer', description: 'Findings that were open and are reported again' })
  unchanged!: number;

  @ApiProperty({
    type: 'integer',
    description: 'Open findings of the same repository, ref and tool that this scan no longer reports',
  })
  fixed!: number;

  @ApiProperty({ type: 'integer', description: 'Fixed findings reported again' })
  reopened!: number;
}
