import { readFileSync } from 'node:fs';
import { IsInt, IsOptional, IsString, Max, Min, ValidateBy } from 'class-validator';
import { parseReporterPublicKeys, type ReporterPublicKey } from '@gatehouse/api-keys';
import { UserTokenVerifierConfig } from '@gatehouse/auth';

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
