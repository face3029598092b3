export * from './lib/api-key.view';
export * from './lib/api-keys.module';
export * from './lib/api-keys.service';
export * from './lib/dto/create-api-key.dto';
export * from './lib/dto/list-api-keys.dto';
