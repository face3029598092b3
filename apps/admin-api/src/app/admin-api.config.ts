import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidateIf,
} from 'class-validator';
import { parseReporterPublicKeys, type ReporterPublicKey } from '@gatehouse/api-keys';
import { UserTokenVerifierConfig } from '@gatehouse/auth';
import { Sensitive } from '@gatehouse/config';
import type { WebhooksOptions } from '@gatehouse/webhooks';

type Settings = Record<string, unknown>;

/** On a `*_FILE` variable: refuses it when its inline twin is set too, rather than silently preferring one. */
function NotTogetherWith(inline: string): PropertyDecorator {
  return ValidateBy({
    name: 'notTogetherWith',
    constraints: [inline],
    validator: {
      validate: (value: unknown, args) =>
        value === undefined || (args?.object as Settings)[inline] === undefined,
      defaultMessage: (args) => `set ${inline} or ${args?.property}, not both`,
    },
  });
}

const WEBHOOK_KEY_MESSAGE =
  'WEBHOOK_SECRET_ENCRYPTION_KEY must be the base64 of 32 random bytes (required when NODE_ENV=production)';

/** Outside production, without a key, endpoint secrets are sealed with this well-known one (and say so). */
const DEVELOPMENT_WEBHOOK_KEY = createHash('sha256').update('gatehouse development webhook key').digest();

export class AdminApiConfig extends UserTokenVerifierConfig {
  override PORT: number = 3003;
  override MANAGEMENT_PORT: number = 9003;

  /** Behind the gateway: its X-Forwarded-For is believed on requests carrying GATEWAY_SECRET. */

  override get gatewaySecretRequired(): boolean {
    return true;
  }

  override get behindGateway(): boolean {
    return true;
  }

  /** Longest lifetime a new key may have, in days (90 is the recommended rotation period). */
  @IsInt()
  @Min(1)
  @Max(3650)
  KEY_MAX_LIFETIME_DAYS: number = 365;

  /**
   * Public keys whose signed leaked-key reports are believed (POST /api/v1/leaked-keys), as the JSON document
   * https://api.github.com/meta/public_keys/secret_scanning serves. Unset: every report is refused (401).
   */
  @IsOptional()
  @IsString()
  LEAKED_KEY_REPORTER_PUBLIC_KEYS: string | undefined = undefined;

  /** Path of a file holding that document, e.g. a mounted ConfigMap. */
  @IsOptional()
  @IsString()
  @NotTogetherWith('LEAKED_KEY_REPORTER_PUBLIC_KEYS')
  LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE: string | undefined = undefined;

  /**
   * Seals webhook endpoint secrets at rest (AES-256-GCM): base64 of 32 bytes, e.g. `openssl rand -base64 32`.
   * Changing it makes every stored secret unreadable (rotate each endpoint's secret afterwards).
   */
  @Sensitive()
  @ValidateIf(
    (config: AdminApiConfig) => config.WEBHOOK_SECRET_ENCRYPTION_KEY !== undefined || config.isProduction,
  )
  @IsString({ message: WEBHOOK_KEY_MESSAGE })
  @Matches(/^[A-Za-z0-9+/]{43}=$/, { message: WEBHOOK_KEY_MESSAGE })
  WEBHOOK_SECRET_ENCRYPTION_KEY: string | undefined = undefined;

  /** false: this replica delivers no webhook (others, or a later start, do: nothing is lost). */
  @IsIn(['true', 'false'], { message: 'WEBHOOK_DELIVERY_ENABLED must be true or false' })
  WEBHOOK_DELIVERY_ENABLED: string = 'true';

  /** Tests only: lets endpoints point at private, loopback and link-local addresses. */
  @IsIn(['true', 'false'], { message: 'WEBHOOK_ALLOW_PRIVATE_URLS must be true or false' })
  WEBHOOK_ALLOW_PRIVATE_URLS: string = 'false';

  /** Delay before the first retry of a failed delivery; each later retry waits 4 times longer (capped at 6 h). */
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  WEBHOOK_RETRY_BASE_MS: number = 30_000;

  /** Attempts per delivery before it is marked failed. */
  @IsInt()
  @Min(1)
  @Max(20)
  WEBHOOK_MAX_ATTEMPTS: number = 8;

  /** Longest wait for a receiver's answer. */
  @IsInt()
  @Min(100)
  @Max(60_000)
  WEBHOOK_TIMEOUT_MS: number = 10_000;

  /** How often due deliveries are looked for. */
  @IsInt()
  @Min(50)
  @Max(60_000)
  WEBHOOK_POLL_INTERVAL_MS: number = 1_000;

  /** How often keys about to expire are looked for (api_key.expiring). */
  @IsInt()
  @Min(100)
  @Max(86_400_000)
  WEBHOOK_EXPIRY_CHECK_INTERVAL_MS: number = 3_600_000;

  /** Days delivered and failed deliveries are kept (pending ones are kept until they end). */
  @IsInt()
  @Min(1)
  @Max(3650)
  WEBHOOK_DELIVERY_RETENTION_DAYS: number = 30;

  get webhooks(): WebhooksOptions {
    return {
      encryptionKey:
        this.WEBHOOK_SECRET_ENCRYPTION_KEY === undefined
          ? DEVELOPMENT_WEBHOOK_KEY
          : Buffer.from(this.WEBHOOK_SECRET_ENCRYPTION_KEY, 'base64'),
      urlPolicy: {
        allowPrivate: this.WEBHOOK_ALLOW_PRIVATE_URLS === 'true',
        requireHttps: this.isProduction,
      },
      delivery: {
        enabled: this.WEBHOOK_DELIVERY_ENABLED === 'true',
        pollIntervalMs: this.WEBHOOK_POLL_INTERVAL_MS,
        timeoutMs: this.WEBHOOK_TIMEOUT_MS,
        retryBaseMs: this.WEBHOOK_RETRY_BASE_MS,
        maxAttempts: this.WEBHOOK_MAX_ATTEMPTS,
        expiryCheckIntervalMs: this.WEBHOOK_EXPIRY_CHECK_INTERVAL_MS,
        retentionDays: this.WEBHOOK_DELIVERY_RETENTION_DAYS,
      },
    };
  }

  /** The reporters' keys, read and checked once at start: a bad document stops admin-api, naming the variable. */
  leakedKeyReporterKeys(): ReporterPublicKey[] {
    if (this.LEAKED_KEY_REPORTER_PUBLIC_KEYS !== undefined) {
      return parseReporterPublicKeys(this.LEAKED_KEY_REPORTER_PUBLIC_KEYS, 'LEAKED_KEY_REPORTER_PUBLIC_KEYS');
    }
    const file = this.LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE;
    if (file === undefined) return [];
    let document: string;
    try {
      document = readFileSync(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new Error(`LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE: cannot read ${file} (${reason})`);
    }
    return parseReporterPublicKeys(document, `LEAKED_KEY_REPORTER_PUBLIC_KEYS_FILE (${file})`);
  }
}
