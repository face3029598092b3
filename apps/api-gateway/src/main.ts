import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import { registerApiDocs, registerUpstreamProxy, type UpstreamRoute } from '@gatehouse/gateway';
import { createHttpApp, exitOnStartupError } from '@gatehouse/http';
import { ApiGatewayConfig } from './app/api-gateway.config';
import { ApiGatewayModule } from './app/api-gateway.module';

async function main(): Promise<void> {
  const config = loadConfig(ApiGatewayConfig);
  const routes: UpstreamRoute[] = [
    { prefix: '/api/v1/auth', upstream: config.AUTH_SERVICE_URL },
    { prefix: '/api/v1/findings', upstream: config.FINDINGS_SERVICE_URL },
    { prefix: '/api/v1/api-keys', upstream: config.ADMIN_API_URL },
    { prefix: '/api/v1/audit-events', upstream: config.ADMIN_API_URL },
  ];
  await createHttpApp(ApiGatewayModule.register(config), config, {
    parseJsonBodies: false,
    configure: async (app) => {
      const fastify = app.getHttpAdapter().getInstance();
      await registerUpstreamProxy(fastify, {
        routes,
        timeoutMs: config.UPSTREAM_TIMEOUT_MS,
        connectionsPerUpstream: config.UPSTREAM_CONNECTIONS,
        bodyLimitBytes: config.BODY_LIMIT_BYTES,
      });
      // The OpenAPI documents of the same upstreams, merged, at /api/docs.
      await registerApiDocs(fastify, {
        routes,
        info: {
          title: 'Gatehouse API',
          version: '1.0.0',
          description:
            'Machine-to-machine authentication: API keys, short-lived RS256 access tokens, and the findings ' +
            'and administration routes they unlock. Generated from the code of auth-service, findings-service ' +
            'and admin-api.',
        },
        timeoutMs: config.UPSTREAM_TIMEOUT_MS,
      });
    },
  });
}

main().catch(exitOnStartupError('api-gateway'));
