export * from './lib/access-token';
export * from './lib/clock';
export * from './lib/error-codes';
export * from './lib/gatehouse-error';
export * from './lib/permissions';
export * from './lib/rate-limits';
export * from './lib/revocation-event';
export * from './lib/page';
