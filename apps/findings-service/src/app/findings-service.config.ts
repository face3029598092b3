import { TokenVerifierConfig } from '@gatehouse/config';

export class FindingsServiceConfig extends TokenVerifierConfig {
  override PORT = 3002;

  override TRUSTED_PROXIES = 'loopback,linklocal,uniquelocal';
}
