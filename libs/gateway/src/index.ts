export * from './lib/upstream-proxy';
