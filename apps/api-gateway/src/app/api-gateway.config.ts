import { IsInt, Matches, Max, Min } from 'class-validator';
import { HttpServiceConfig } from '@gatehouse/config';

const HTTP_URL = /^https?:\/\/[^/]+$/;
const URL_MESSAGE = (name: string) => ({ message: `${name} must be an http(s) origin without a path` });

export class ApiGatewayConfig extends HttpServiceConfig {
  override PORT: number = 8080;

  @Matches(HTTP_URL, URL_MESSAGE('AUTH_SERVICE_URL'))
  AUTH_SERVICE_URL: string = 'http://127.0.0.1:3001';

  @Matches(HTTP_URL, URL_MESSAGE('FINDINGS_SERVICE_URL'))
  FINDINGS_SERVICE_URL: string = 'http://127.0.0.1:3002';

  @Matches(HTTP_URL, URL_MESSAGE('ADMIN_API_URL'))
  ADMIN_API_URL: string = 'http://127.0.0.1:3003';

  /** An upstream that sends no response headers within this time gets the client a 504. */
  @IsInt()
  @Min(100)
  @Max(120_000)
  UPSTREAM_TIMEOUT_MS: number = 10_000;

  /** Keep-alive connections kept per upstream. */
  @IsInt()
  @Min(1)
  @Max(1024)
  UPSTREAM_CONNECTIONS: number = 128;
}
