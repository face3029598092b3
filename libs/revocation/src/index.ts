export * from './lib/in-process-key-event-bus';
export * from './lib/redis-key-event-bus';
export * from './lib/key-event-bus';
export * from './lib/revocation-registry';
export * from './lib/revocation.module';
