export * from './lib/api-docs';
export * from './lib/upstream-proxy';
