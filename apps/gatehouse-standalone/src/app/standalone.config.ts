import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { DataServiceConfig } from '@gatehouse/config';

/**
 * The standalone suite's variables. Every other variable (LOG_LEVEL, JWT_*, OIDC_*, …) reaches the four apps as
 * usual; PORT cannot (one process, four servers), so each app has its own port variable here. 0 picks a free port;
 * the "standalone suite ready" log line lists the URLs. DATABASE_URL and REDIS_URL must stay unset.
 */
export class StandaloneConfig extends DataServiceConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  API_GATEWAY_PORT: number = 8080;

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

  /** The data directory (PostgreSQL files, control socket); `.data/` at the repository root when unset. */
  @IsOptional()
  @IsString()
  GATEHOUSE_DATA_DIR: string | undefined = undefined;
}
