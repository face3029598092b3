export * from './lib/data-source';
export * from './lib/embedded-database';
export * from './lib/entities/api-key-usage.entity';
export * from './lib/entities/api-key.entity';
export * from './lib/entities/audit-event.entity';
export * from './lib/entities/organization.entity';
export * from './lib/persistence.module';
export * from './lib/schema-check';
