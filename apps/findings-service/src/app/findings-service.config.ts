import { TokenVerifierConfig } from '@gatehouse/config';

export class FindingsServiceConfig extends TokenVerifierConfig {
  override PORT: number = 3002;

  override TRUSTED_PROXIES: string = 'loopback,linklocal,uniquelocal';
}
