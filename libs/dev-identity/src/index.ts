export * from './lib/dev-identity-adapter';
export * from './lib/dev-identity-provider';
export * from './lib/dev-identity.errors';
export * from './lib/dev-identity-keys';
export * from './lib/dev-user-store';
