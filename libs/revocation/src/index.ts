export * from './lib/in-process-revocation-bus';
export * from './lib/redis-revocation-bus';
export * from './lib/revocation-bus';
export * from './lib/revocation-registry';
export * from './lib/revocation.module';
