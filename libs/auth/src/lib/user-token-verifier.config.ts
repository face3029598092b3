import { IsOptional, IsString, Length, Matches, ValidateBy, type ValidationOptions } from 'class-validator';
import { TokenVerifierConfig } from '@gatehouse/config';
import { isOidcAlgorithm, OIDC_ALGORITHMS, type OidcVerificationOptions } from './oidc-options';

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

/**
 * Variables of a service that also accepts dashboard users' tokens from the organization's identity provider
 * (admin-api, findings-service): the same variables, validated the same way, in both.
 */
export class UserTokenVerifierConfig extends TokenVerifierConfig {
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
