export * from './lib/rate-limit-rule';
export * from './lib/rate-limit-store';
export * from './lib/rate-limiter';
export * from './lib/redis-rate-limit-store';
