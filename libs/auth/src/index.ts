export * from './lib/auth.module';
export * from './lib/decorators';
export * from './lib/jwt-auth.guard';
export * from './lib/jwt.strategy';
export * from './lib/permissions.guard';
export * from './lib/signing-key-resolver';
export * from './lib/token-verification-options';
