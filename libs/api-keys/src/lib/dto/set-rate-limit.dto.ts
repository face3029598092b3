import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import {
  RATE_LIMIT_BURST_MAX,
  RATE_LIMIT_BURST_MIN,
  RATE_LIMIT_REQUESTS_PER_MINUTE_MAX,
  RATE_LIMIT_REQUESTS_PER_MINUTE_MIN,
} from '@gatehouse/contracts';

/** A per-key override of the organization plan's rate limit; both values are required, like both columns. */
export class SetRateLimitDto {
  @ApiProperty({
    description: 'Sustained rate the gateway allows for this key',
    type: 'integer',
    minimum: RATE_LIMIT_REQUESTS_PER_MINUTE_MIN,
    maximum: RATE_LIMIT_REQUESTS_PER_MINUTE_MAX,
    example: 120,
  })
  @IsInt()
  @Min(RATE_LIMIT_REQUESTS_PER_MINUTE_MIN)
  @Max(RATE_LIMIT_REQUESTS_PER_MINUTE_MAX)
  requests_per_minute!: number;

  @ApiProperty({
    description: 'Requests allowed at once on top of the sustained rate; 0 for none',
    type: 'integer',
    minimum: RATE_LIMIT_BURST_MIN,
    maximum: RATE_LIMIT_BURST_MAX,
    example: 20,
  })
  @IsInt()
  @Min(RATE_LIMIT_BURST_MIN)
  @Max(RATE_LIMIT_BURST_MAX)
  burst!: number;
}
