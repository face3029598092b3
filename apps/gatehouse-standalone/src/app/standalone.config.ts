import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { DataServiceConfig } from '@gatehouse/config';

/**
 * The standalone suite's variables. Every other variable (LOG_LEVEL, LOG_FORMAT, JWT_*, OIDC_*, …) reaches the
 * four apps as usual; PORT cannot (one process, four servers), so each app has its own port variable here, and
 * PORT is the gateway's when API_GATEWAY_PORT is unset (the one port a user reaches); the management ports
 * likewise (MANAGEMENT_PORT is the gateway's when API_GATEWAY_MANAGEMENT_PORT is unset). 0 picks a free port; the
 * ready banner (or the "standalone suite ready" log line) lists the URLs. DATABASE_URL and REDIS_URL must stay
 * unset.
 */
export class StandaloneConfig extends DataServiceConfig {
  override PORT: number = 8080;

  // Optional, so its design type is not Number: implicit conversion needs telling.
  @Type(() => Number)
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(65535)
  API_GATEWAY_PORT: number | undefined = undefined;

  @IsInt()
  @Min(0)
  @Max(65535)
  AUTH_SERVICE_PORT: number = 3001;

  @IsInt()
  @Min(0)
  @Max(65535)
  FINDINGS_SERVICE_PORT: number = 3002;

  @IsInt()
  @Min(0)
  @Max(65535)
  ADMIN_API_PORT: number = 3003;

  /** The apps' management ports (`GET /metrics`), as their own MANAGEMENT_PORT; the gateway's is MANAGEMENT_PORT's. */
  override MANAGEMENT_PORT: number = 9080;

  @Type(() => Number)
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(65535)
  API_GATEWAY_MANAGEMENT_PORT: number | undefined = undefined;

  @IsInt()
  @Min(0)
  @Max(65535)
  AUTH_SERVICE_MANAGEMENT_PORT: number = 9001;

  @IsInt()
  @Min(0)
  @Max(65535)
  FINDINGS_SERVICE_MANAGEMENT_PORT: number = 9002;

  @IsInt()
  @Min(0)
  @Max(65535)
  ADMIN_API_MANAGEMENT_PORT: number = 9003;

  /**
   * The development identity provider (libs/dev-identity), for the dashboard's sign-in: on unless `off`, and only
   * while OIDC_ISSUER is unset (a configured identity provider replaces it). Never with NODE_ENV=production.
   */
  @IsIn(['on', 'off'], { message: 'DEV_IDENTITY must be on or off' })
  DEV_IDENTITY: 'on' | 'off' = 'on';

  /** Read here only to know whether a real identity provider is configured (the apps read it themselves). */
  @IsOptional()
  @IsString()
  OIDC_ISSUER: string | undefined = undefined;

  /** Its port, on HOST like the apps' ports. */
  @IsInt()
  @Min(0)
  @Max(65535)
  DEV_IDENTITY_PORT: number = 8090;

  /** The data directory (PostgreSQL files, control socket); `.data/` at the repository root when unset. */
  @IsOptional()
  @IsString()
  GATEHOUSE_DATA_DIR: string | undefined = undefined;

  /** Whether this suite runs the development identity provider. */
  get devIdentityOn(): boolean {
    return this.DEV_IDENTITY === 'on' && this.OIDC_ISSUER === undefined;
  }

  get gatewayPort(): number {
    return this.API_GATEWAY_PORT ?? this.PORT;
  }

  get gatewayManagementPort(): number {
    return this.API_GATEWAY_MANAGEMENT_PORT ?? this.MANAGEMENT_PORT;
  }
}
