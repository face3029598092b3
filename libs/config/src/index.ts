export * from './lib/load-config';
export * from './lib/sensitive.decorator';
export * from './lib/service-config';
export * from './lib/telemetry-config';
