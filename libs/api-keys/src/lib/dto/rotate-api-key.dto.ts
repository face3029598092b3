import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export const ROTATION_GRACE_DEFAULT_SECONDS = 24 * 3600;
export const ROTATION_GRACE_MAX_SECONDS = 7 * 24 * 3600;

export class RotateApiKeyDto {
  /** How long the previous secret keeps working, 0 to 7 days; 24 hours when omitted. */
  // The default is told in the description, not as `default`, which generators turn into a required field.
  @ApiPropertyOptional({
    description: `How long the previous secret keeps working, 0 to 7 days. Default: ${ROTATION_GRACE_DEFAULT_SECONDS} (24 hours)`,
    type: 'integer',
    minimum: 0,
    maximum: ROTATION_GRACE_MAX_SECONDS,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(ROTATION_GRACE_MAX_SECONDS)
  grace_period_seconds?: number;
}
