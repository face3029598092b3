import { readFileSync } from 'node:fs';
import {
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidateIf,
  type ValidationArguments,
  type ValidationOptions,
} from 'class-validator';
import { DataServiceConfig, Sensitive } from '@gatehouse/config';

const KID_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

/** On a `*_FILE` variable: refuses it when its inline twin is set too, rather than silently preferring one. */
function NotTogetherWith(inline: string, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'notTogetherWith',
      constraints: [inline],
      validator: {
        validate: (value: unknown, args: ValidationArguments) =>
          value === undefined || (args.object as Record<string, unknown>)[inline] === undefined,
        defaultMessage: (args: ValidationArguments) => `set ${inline} or ${args.property}, not both`,
      },
    },
    options,
  );
}

/** A key as the token-issuance module takes it; `source` names the variable in start-up errors. */
export interface ConfiguredKey {
  pem: string;
  kid?: string;
  source: string;
}

export class AuthServiceConfig extends DataServiceConfig {
  override PORT: number = 3001;
  override MANAGEMENT_PORT: number = 9001;

  /** Only the gateway calls this service: its X-Forwarded-For is believed on requests carrying GATEWAY_SECRET. */

  override get gatewaySecretRequired(): boolean {
    return true;
  }

  override get behindGateway(): boolean {
    return true;
  }

  /** PEM of the RSA private key that signs access tokens (`\n` escapes are accepted). */
  @Sensitive()
  @ValidateIf((config: AuthServiceConfig) => config.NODE_ENV === 'production' && !config.JWT_SIGNING_KEY_FILE)
  @IsNotEmpty({ message: 'JWT_SIGNING_KEY or JWT_SIGNING_KEY_FILE must be set when NODE_ENV=production' })
  @IsString()
  JWT_SIGNING_KEY?: string;

  /** Path of a PEM file holding the signing key, e.g. a mounted Kubernetes Secret. */
  @IsOptional()
  @IsString()
  @NotTogetherWith('JWT_SIGNING_KEY')
  JWT_SIGNING_KEY_FILE?: string;

  /** Overrides the `kid`; by default it is the key's RFC 7638 thumbprint. */
  @IsOptional()
  @Matches(KID_PATTERN)
  JWT_SIGNING_KEY_ID?: string;

  /**
   * Rotation step 1: PEM (private or public) of the key that will sign next. Published in the JWKS, never signs,
   * so that every verifier has cached it before the first token signed with it arrives.
   */
  @Sensitive()
  @IsOptional()
  @IsString()
  JWT_NEXT_SIGNING_KEY?: string;

  @IsOptional()
  @IsString()
  @NotTogetherWith('JWT_NEXT_SIGNING_KEY')
  JWT_NEXT_SIGNING_KEY_FILE?: string;

  /** `kid` of the next key; it must stay the same when that key becomes JWT_SIGNING_KEY. */
  @IsOptional()
  @Matches(KID_PATTERN)
  JWT_NEXT_SIGNING_KEY_ID?: string;

  /**
   * Rotation step 2: PEM (private or public) of the key that signed before JWT_SIGNING_KEY. Published, never
   * signs, until every token it signed has expired.
   */
  @Sensitive()
  @IsOptional()
  @IsString()
  JWT_PREVIOUS_SIGNING_KEY?: string;

  @IsOptional()
  @IsString()
  @NotTogetherWith('JWT_PREVIOUS_SIGNING_KEY')
  JWT_PREVIOUS_SIGNING_KEY_FILE?: string;

  /** `kid` of the previous key; it must be the one that key signed with. */
  @IsOptional()
  @Matches(KID_PATTERN)
  JWT_PREVIOUS_SIGNING_KEY_ID?: string;

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

  /** The signing key, when configured; `source` is the variable it was read from. */
  signingKey(): ConfiguredKey | undefined {
    return this.readKey(
      'JWT_SIGNING_KEY',
      this.JWT_SIGNING_KEY,
      this.JWT_SIGNING_KEY_FILE,
      this.JWT_SIGNING_KEY_ID,
    );
  }

  nextSigningKey(): ConfiguredKey | undefined {
    return this.readKey(
      'JWT_NEXT_SIGNING_KEY',
      this.JWT_NEXT_SIGNING_KEY,
      this.JWT_NEXT_SIGNING_KEY_FILE,
      this.JWT_NEXT_SIGNING_KEY_ID,
    );
  }

  previousSigningKey(): ConfiguredKey | undefined {
    return this.readKey(
      'JWT_PREVIOUS_SIGNING_KEY',
      this.JWT_PREVIOUS_SIGNING_KEY,
      this.JWT_PREVIOUS_SIGNING_KEY_FILE,
      this.JWT_PREVIOUS_SIGNING_KEY_ID,
    );
  }

  private readKey(
    variable: string,
    inline: string | undefined,
    file: string | undefined,
    kid: string | undefined,
  ): ConfiguredKey | undefined {
    if (inline) return { pem: inline.replace(/\\n/g, '\n'), kid, source: variable };
    if (!file) return undefined;
    try {
      return { pem: readFileSync(file, 'utf8'), kid, source: `${variable}_FILE (${file})` };
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new Error(`${variable}_FILE: cannot read ${file} (${reason})`);
    }
  }
}
