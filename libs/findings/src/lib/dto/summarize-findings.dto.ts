import { ApiPropertyOptional, PickType } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { ListFindingsDto } from './list-findings.dto';

export const FINDING_SUMMARY_GROUPINGS = ['repository', 'tool'] as const;
export type FindingSummaryGrouping = (typeof FINDING_SUMMARY_GROUPINGS)[number];

/**
 * `GET /api/v1/findings/summary`: the list's repository, ref and tool filters (same validation, same schema) narrow
 * every count, totals and groups alike.
 */
export class SummarizeFindingsDto extends PickType(ListFindingsDto, ['repository', 'ref', 'tool'] as const) {
  @ApiPropertyOptional({
    enum: FINDING_SUMMARY_GROUPINGS,
    description: 'Also count per repository or per tool (`groups`)',
  })
  @IsOptional()
  @IsIn(FINDING_SUMMARY_GROUPINGS)
  group_by?: FindingSummaryGrouping;
}
