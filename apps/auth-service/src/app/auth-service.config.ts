import { readFileSync } from 'node:fs';
import { IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, Min, ValidateIf } from 'class-validator';
import { DataServiceConfig, Sensitive } from '@gatehouse/config';

export class AuthServiceConfig extends DataServiceConfig {
  override PORT: number = 3001;

  /** Only the gateway calls this service; its X-Forwarded-For carries the pipeline's address. */
  override TRUSTED_PROXIES: string = 'loopback,linklocal,uniquelocal';

  /** PEM of the RSA private key that signs access tokens (`\n` escapes are accepted). */
  @Sensitive()
  @ValidateIf((config: AuthServiceConfig) => config.NODE_ENV === 'production' && !config.JWT_SIGNING_KEY_FILE)
  @IsNotEmpty({ message: 'JWT_SIGNING_KEY or JWT_SIGNING_KEY_FILE must be set when NODE_ENV=production' })
  @IsString()
  JWT_SIGNING_KEY?: string;

  /** Path of a PEM file holding the signing key, e.g. a mounted Kubernetes Secret. */
  @IsOptional()
  @IsString()
  JWT_SIGNING_KEY_FILE?: string;

  /** Overrides the `kid`; by default it is the key's RFC 7638 thumbprint. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,100}$/)
  JWT_SIGNING_KEY_ID?: string;

  /** How often last-used times are written back, in milliseconds. */
  @IsInt()
  @Min(100)
  @Max(60_000)
  USAGE_FLUSH_INTERVAL_MS: number = 2000;

  /** Days the per-key usage log (every authentication attempt with a known key) is kept. */
  @IsInt()
  @Min(1)
  @Max(3650)
  USAGE_RETENTION_DAYS: number = 30;

  signingKeyPem(): string | undefined {
    if (this.JWT_SIGNING_KEY) return this.JWT_SIGNING_KEY.replace(/\\n/g, '\n');
    if (this.JWT_SIGNING_KEY_FILE) return readFileSync(this.JWT_SIGNING_KEY_FILE, 'utf8');
    return undefined;
  }
}
