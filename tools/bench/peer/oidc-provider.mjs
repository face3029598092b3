#!/usr/bin/env node
// The peer `npm run bench` measures Gatehouse against: panva's oidc-provider issuing RS256 JWT access tokens through
// client_credentials, the closest well-known equivalent of POST /api/v1/auth/m2m/authenticate (a credential in, a
// 30-minute RS256 JWT out). The setup is ../shared/bench-peer/server.mjs as given with the M8 issue, unchanged
// but for the port handling and --help; oidc-provider comes from this repository's lockfile.
//
// Usage: PORT=3900 node tools/bench/peer/oidc-provider.mjs
//   POST http://127.0.0.1:$PORT/token
//   Authorization: Basic base64("bench-client:bench-secret-0123456789abcdef0123456789abcdef")
//   Content-Type: application/x-www-form-urlencoded
//   grant_type=client_credentials&scope=write%3Afindings&resource=https%3A%2F%2Ffindings.api.test%2F
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import Provider, { errors } from 'oidc-provider';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    'Usage: PORT=3900 node tools/bench/peer/oidc-provider.mjs\n' +
      "  oidc-provider's token endpoint (client_credentials → RS256 JWT, 1800 s) on 127.0.0.1:$PORT/token\n",
  );
  process.exit(0);
}

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT || 3900);
const ISSUER = `http://${HOST}:${PORT}`;
export const RESOURCE = 'https://findings.api.test/';
const SCOPE = 'write:findings';

// RSA-2048 signing key generated at startup, exported as a private JWK.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256-1', use: 'sig', alg: 'RS256' };

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: 'bench-client',
      client_secret: 'bench-secret-0123456789abcdef0123456789abcdef',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPE,
    },
  ],
  jwks: { keys: [jwk] },
  scopes: [SCOPE],
  ttl: { ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? 600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      getResourceServerInfo(ctx, resourceIndicator) {
        if (resourceIndicator !== RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: SCOPE,
          audience: RESOURCE,
          accessTokenTTL: 1800,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

// No per-request logging: count failures only, print them on exit.
let serverErrors = 0;
let grantErrors = 0;
provider.on('server_error', () => {
  serverErrors += 1;
});
provider.on('grant.error', () => {
  grantErrors += 1;
});

const server = http.createServer(provider.callback());
server.keepAliveTimeout = 65_000;
server.listen(PORT, HOST, () => {
  console.log(`oidc-provider listening ${ISSUER} pid=${process.pid} token_endpoint=${ISSUER}/token`);
});

const stop = () => {
  console.log(`stopping: grant.error=${grantErrors} server_error=${serverErrors}`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
