export * from './lib/api-key';
export * from './lib/signing-keys';
export * from './lib/token-signer';
