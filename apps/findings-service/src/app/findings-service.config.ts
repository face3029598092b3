import { TokenVerifierConfig } from '@gatehouse/config';

export class FindingsServiceConfig extends TokenVerifierConfig {
  override PORT: number = 3002;

  /** Behind the gateway: its X-Forwarded-For is believed on requests carrying GATEWAY_SECRET. */

  override get gatewaySecretRequired(): boolean {
    return true;
  }

  override get behindGateway(): boolean {
    return true;
  }
}
