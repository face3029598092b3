import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';

export const FINDING_SUMMARY_GROUPINGS = ['repository', 'tool'] as const;
export type FindingSummaryGrouping = (typeof FINDING_SUMMARY_GROUPINGS)[number];

/** `GET /api/v1/findings/summary`: the filters narrow every count, totals and groups alike. */
export class SummarizeFindingsDto {
  @ApiPropertyOptional({
    enum: FINDING_SUMMARY_GROUPINGS,
    description: 'Also count per repository or per tool (`groups`)',
  })
  @IsOptional()
  @IsIn(FINDING_SUMMARY_GROUPINGS)
  group_by?: FindingSummaryGrouping;

  @ApiPropertyOptional({
    description: 'Only findings of this repository (spelt as uploads are: trailing `/` and `.git` dropped)',
    maxLength: 500,
    example: 'acme/payments',
  })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  repository?: string;

  @ApiPropertyOptional({
    description: 'Only findings of this ref',
    maxLength: 500,
    example: 'refs/heads/main',
  })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  ref?: string;

  @ApiPropertyOptional({ description: 'Only findings of this scanner', maxLength: 200, example: 'semgrep' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  tool?: string;
}
