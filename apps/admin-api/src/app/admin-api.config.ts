import { readFileSync } from 'node:fs';
import {
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateBy,
  type ValidationOptions,
} from 'class-validator';
import { parseReporterPublicKeys, type ReporterPublicKey } from '@gatehouse/api-keys';
import { isOidcAlgorithm, OIDC_ALGORITHMS, type OidcVerificationOptions } from '@gatehouse/auth';
import { TokenVerifierConfig } from '@gatehouse/config';

const HTTP_URL = /^https?:\/\/\S+$/;
/** A top-level claim name: plain (`org`) or namespaced (`https://gatehouse.example/org`), no spaces. */
const CLAIM_NAME = /^\S{1,200}$/;

type Settings = Record<string, unknown>;

/**
 * Ignored while OIDC_ISSUER is unset; required once it is set, and then checked by `isValid`. (IsOptional would
 * skip the "required" check too, hence one validator for both.)
 */
function RequiredWithIssuer(isValid: (value: string) => boolean, requirement: string): PropertyDecorator {
  return ValidateBy({
    name: 'requiredWithIssuer',
    validator: {
      validate: (value: unknown, args) =>
        value === undefined
          ? (args?.object as Settings)['OIDC_ISSUER'] === undefined
          : typeof value === 'string' && isValid(value),
      defaultMessage: (args) =>
        args?.value === undefined
          ? `${args?.property} is required when OIDC_ISSUER is set`
          : `${args?.property} must be ${requirement}`,
    },
  });
}

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

/** The identity provider's issuer must not be Gatehouse's own: the issuer decides which verifier runs. */
function DiffersFromGatehouseIssuer(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'differsFromGatehouseIssuer',
      validator: {
        validate: (value: unknown, args) => value !== (args?.object as Settings)['JWT_ISSUER'],
        defaultMessage: () => 'OIDC_ISSUER must differ from JWT_ISSUER',
      },
    },
    options,
  );
}

function parseAlgorithms(value: string): string[] {
  return value.split(',').map((algorithm) => algorithm.trim());
}

/** A comma-separated allow-list of asymmetric JWS algorithms. */
function IsAlgorithmList(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isAlgorithmList',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' &&
          parseAlgorithms(value).every((algorithm) => isOidcAlgorithm(algorithm)),
        defaultMessage: () =>
          `OIDC_ALGORITHMS must be a comma-separated list of ${OIDC_ALGORITHMS.join(', ')} (asymmetric only)`,
      },
    },
    options,
  );
}

export class AdminApiConfig extends TokenVerifierConfig {
  override PORT: number = 3003;

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
   * `iss` of the organization's identity provider; dashboard users' tokens from it are accepted next to
   * Gatehouse's own. Unset: only Gatehouse tokens are accepted.
   */
  @IsOptional()
  @IsString()
  @Length(1, 500)
  @DiffersFromGatehouseIssuer()
  OIDC_ISSUER: string | undefined = undefined;

  /** The identity provider's public keys (required with OIDC_ISSUER). */
  @RequiredWithIssuer((value) => HTTP_URL.test(value), 'an http(s) URL')
  OIDC_JWKS_URL: string | undefined = undefined;

  /** Required in the `aud` of user tokens (required with OIDC_ISSUER). */
  @RequiredWithIssuer((value) => value.length <= 200, 'at most 200 characters')
  OIDC_AUDIENCE: string | undefined = undefined;

  /** Claim holding the user's id. */
  @Matches(CLAIM_NAME, { message: 'OIDC_USER_CLAIM must be a claim name without spaces' })
  OIDC_USER_CLAIM: string = 'sub';

  /** Claim holding the Gatehouse organization's name (e.g. `acme`). */
  @Matches(CLAIM_NAME, { message: 'OIDC_ORG_CLAIM must be a claim name without spaces' })
  OIDC_ORG_CLAIM: string = 'org';

  /** Claim holding the role: owner, admin, member or viewer. */
  @Matches(CLAIM_NAME, { message: 'OIDC_ROLE_CLAIM must be a claim name without spaces' })
  OIDC_ROLE_CLAIM: string = 'role';

  /** Accepted `alg` values of user tokens, comma separated. */
  @IsAlgorithmList()
  OIDC_ALGORITHMS: string = 'RS256';

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

  /** How dashboard users' tokens are verified, or undefined when OIDC_ISSUER is unset. */
  get oidc(): OidcVerificationOptions | undefined {
    if (this.OIDC_ISSUER === undefined) return undefined;
    if (this.OIDC_JWKS_URL === undefined || this.OIDC_AUDIENCE === undefined) {
      throw new Error('OIDC_JWKS_URL and OIDC_AUDIENCE are required when OIDC_ISSUER is set');
    }
    return {
      issuer: this.OIDC_ISSUER,
      jwksUrl: this.OIDC_JWKS_URL,
      audience: this.OIDC_AUDIENCE,
      algorithms: [...new Set(parseAlgorithms(this.OIDC_ALGORITHMS).filter(isOidcAlgorithm))],
      userClaim: this.OIDC_USER_CLAIM,
      organizationClaim: this.OIDC_ORG_CLAIM,
      roleClaim: this.OIDC_ROLE_CLAIM,
    };
  }
}
