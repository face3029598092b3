export * from './lib/create-http-app';
export * from './lib/error-response';
export * from './lib/error.filter';
export * from './lib/health';
export * from './lib/logging';
export * from './lib/openapi';
export * from './lib/request-id';
export * from './lib/validation';
