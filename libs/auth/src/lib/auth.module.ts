import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { CLOCK, systemClock, type Clock } from '@gatehouse/contracts';
import { OrganizationEntity } from '@gatehouse/persistence';
import { AccessTokenGuard } from './access-token.guard';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { OIDC_VERIFICATION_OPTIONS, type OidcVerificationOptions } from './oidc-options';
import { OrganizationDirectory } from './organization-directory';
import { PermissionsGuard } from './permissions.guard';
import { TOKEN_VERIFICATION_OPTIONS, type TokenVerificationOptions } from './token-verification-options';
import { createUserKeyResolver, UserTokenVerifier } from './user-token-verifier';

export interface AuthOptions extends TokenVerificationOptions {
  /**
   * Also accept dashboard users' tokens from this identity provider (admin-api only). Without it, only
   * Gatehouse's own access tokens are accepted.
   */
  oidc?: OidcVerificationOptions;
}

function userTokenProviders(options: AuthOptions, oidc: OidcVerificationOptions): Provider[] {
  return [
    { provide: OIDC_VERIFICATION_OPTIONS, useValue: oidc },
    {
      provide: OrganizationDirectory,
      inject: [getRepositoryToken(OrganizationEntity)],
      useFactory: (organizations: Repository<OrganizationEntity>) =>
        new OrganizationDirectory(async (name) => {
          const found = await organizations.findOne({ select: { id: true }, where: { name } });
          return found?.id ?? null;
        }),
    },
    {
      provide: UserTokenVerifier,
      inject: [OrganizationDirectory, { token: CLOCK, optional: true }],
      useFactory: (organizations: OrganizationDirectory, clock: Clock | undefined) =>
        new UserTokenVerifier(
          { ...oidc, clockToleranceSeconds: options.clockToleranceSeconds },
          organizations,
          createUserKeyResolver(oidc.jwksUrl),
          clock ?? systemClock,
        ),
    },
  ];
}

@Module({})
export class AuthModule {
  static forRoot(options: AuthOptions): DynamicModule {
    const { oidc, ...gatehouse } = options;
    const users = oidc ? userTokenProviders(options, oidc) : [];
    return {
      module: AuthModule,
      global: true,
      imports: [PassportModule],
      providers: [
        { provide: TOKEN_VERIFICATION_OPTIONS, useValue: gatehouse },
        JwtStrategy,
        JwtAuthGuard,
        PermissionsGuard,
        AccessTokenGuard,
        ...users,
      ],
      exports: [
        TOKEN_VERIFICATION_OPTIONS,
        JwtAuthGuard,
        PermissionsGuard,
        AccessTokenGuard,
        ...(oidc ? [UserTokenVerifier, OrganizationDirectory] : []),
      ],
    };
  }
}
