export * from './lib/cli';
export * from './lib/http';
export * from './lib/oidc-issuer';
export * from './lib/service-process';
export * from './lib/suite';
export * from './lib/test-database';
export * from './lib/redis';
export * from './lib/manual-clock';
