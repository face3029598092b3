import { IsInt, Max, Min } from 'class-validator';
import { TokenVerifierConfig } from '@gatehouse/config';

export class AdminApiConfig extends TokenVerifierConfig {
  override PORT: number = 3003;

  override TRUSTED_PROXIES: string = 'loopback,linklocal,uniquelocal';

  /** Longest lifetime a new key may have, in days (90 is the recommended rotation period). */
  @IsInt()
  @Min(1)
  @Max(3650)
  KEY_MAX_LIFETIME_DAYS: number = 365;
}
