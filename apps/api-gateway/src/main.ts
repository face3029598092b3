import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import { registerUpstreamProxy } from '@gatehouse/gateway';
import { createHttpApp, exitOnStartupError } from '@gatehouse/http';
import { ApiGatewayConfig } from './app/api-gateway.config';
import { ApiGatewayModule } from './app/api-gateway.module';

async function main(): Promise<void> {
  const config = loadConfig(ApiGatewayConfig);
  await createHttpApp(ApiGatewayModule.register(config), config, {
    parseJsonBodies: false,
    configure: (app) =>
      registerUpstreamProxy(app.getHttpAdapter().getInstance(), {
        routes: [
          { prefix: '/api/v1/auth', upstream: config.AUTH_SERVICE_URL },
          { prefix: '/api/v1/findings', upstream: config.FINDINGS_SERVICE_URL },
          { prefix: '/api/v1/api-keys', upstream: config.ADMIN_API_URL },
        ],
        timeoutMs: config.UPSTREAM_TIMEOUT_MS,
        connectionsPerUpstream: config.UPSTREAM_CONNECTIONS,
        bodyLimitBytes: config.BODY_LIMIT_BYTES,
      }),
  });
}

main().catch(exitOnStartupError('api-gateway'));
