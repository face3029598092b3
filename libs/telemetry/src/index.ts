export * from './lib/telemetry';
export * from './lib/trace-context';
