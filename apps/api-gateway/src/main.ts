import './instrument';
import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import {
  GatewayAccess,
  registerGateway,
  registerGatewayAccess,
  rewriteToNormalizedUrl,
  SECURITY_HEADERS,
} from '@gatehouse/gateway';
import { createHttpApp, exitOnStartupError, GatehouseMetrics } from '@gatehouse/http';
import { ApiGatewayConfig } from './app/api-gateway.config';
import { ApiGatewayModule } from './app/api-gateway.module';
import { API_PREFIXES, AUTHENTICATE_PATH, CREDENTIAL_PREFIXES, upstreamRoutes } from './app/routes';

async function main(): Promise<void> {
  const config = loadConfig(ApiGatewayConfig);
  const routes = upstreamRoutes(config);
  await createHttpApp(ApiGatewayModule.register(config), config, {
    parseJsonBodies: false,
    // Decoded once, before routing: the router, the limits and the upstream all see the same path.
    rewriteUrl: rewriteToNormalizedUrl,
    // Node's 431s and 400s and the router's 414s are written before any hook: they carry the headers all the same.
    answerHeaders: SECURITY_HEADERS,
    configure: async (app) => {
      // Security headers, CORS, the proxy with its body limit and rate limits, and the merged OpenAPI documents.
      const access = app.get(GatewayAccess).options;
      await registerGateway(app.getHttpAdapter().getInstance(), {
        routes,
        timeoutMs: config.UPSTREAM_TIMEOUT_MS,
        connectionsPerUpstream: config.UPSTREAM_CONNECTIONS,
        bodyLimitBytes: config.BODY_LIMIT_BYTES,
        routeBodyLimits: config.routeBodyLimits(),
        corsOrigins: config.corsOrigins(),
        gatewaySecret: config.GATEWAY_SECRET,
        metrics: app.get(GatehouseMetrics, { strict: false }),
        dashboard: config.dashboardOptions(),
        guards: [
          (scope) => registerGatewayAccess(scope, { ...access, credentialPrefixes: CREDENTIAL_PREFIXES }),
        ],
        apiDocs: {
          access: { authenticatePath: AUTHENTICATE_PATH, apiPrefixes: API_PREFIXES },
          info: {
            title: 'Gatehouse API',
            version: '1.0.0',
            description:
              'Machine-to-machine authentication: API keys, short-lived RS256 access tokens, and the findings ' +
              'and administration routes they unlock. Generated from the code of auth-service, findings-service ' +
              'and admin-api.',
          },
        },
      });
    },
  });
}

main().catch(exitOnStartupError('api-gateway'));
