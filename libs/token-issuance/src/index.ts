export * from './lib/dto/authenticate-client.dto';
export * from './lib/signing-key.provider';
export * from './lib/token-issuance-options';
export * from './lib/token-issuance.module';
export * from './lib/token-issuance.service';
export * from './lib/usage-log';
export * from './lib/usage-recorder';
export * from './lib/api-key-cache';
