import { Module, type DynamicModule } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { PermissionsGuard } from './permissions.guard';
import { TOKEN_VERIFICATION_OPTIONS, type TokenVerificationOptions } from './token-verification-options';

@Module({})
export class AuthModule {
  static forRoot(options: TokenVerificationOptions): DynamicModule {
    return {
      module: AuthModule,
      global: true,
      imports: [PassportModule],
      providers: [
        { provide: TOKEN_VERIFICATION_OPTIONS, useValue: options },
        JwtStrategy,
        JwtAuthGuard,
        PermissionsGuard,
      ],
      exports: [JwtAuthGuard, PermissionsGuard],
    };
  }
}
