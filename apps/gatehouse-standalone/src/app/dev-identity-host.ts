import { join } from 'node:path';
import {
  DevIdentityInProductionError,
  FileDevUserStore,
  loadOrCreateDevIdentityKeys,
  refuseInProduction,
  startDevIdentityProvider,
  type DevIdentityProvider,
  type DevUserStore,
} from '@gatehouse/dev-identity';
import { hostLog } from './host-logger';
import type { StandaloneConfig } from './standalone.config';
import { StartupRefusal } from './startup';

/** The development identity provider's files in the data directory (owner-only): users and keys. */
export const DEV_IDENTITY_DIR = 'dev-identity';

/** Refused before anything starts: the provider would let anyone with a password from a local file in. */
export function refuseDevIdentityInProduction(config: StandaloneConfig): void {
  if (!config.devIdentityOn) return;
  try {
    refuseInProduction({ NODE_ENV: config.NODE_ENV });
  } catch (error) {
    if (error instanceof DevIdentityInProductionError) throw new StartupRefusal(error.message);
    throw error;
  }
}

export interface HostedDevIdentity {
  provider: DevIdentityProvider;
  users: DevUserStore;
  /** What the apps are told: admin-api and findings-service trust its tokens, the gateway names it to the dashboard. */
  env: Record<string, string>;
}

/** The audience of its access tokens, as admin-api checks it (OIDC_AUDIENCE): oidc-provider wants an absolute URI. */
const AUDIENCE = 'urn:gatehouse:api';

/**
 * Starts the provider on its (held, now released) port, for the dashboard reached at the gateway's port by
 * 127.0.0.1 or localhost (and the configured host's name, when another).
 */
export async function hostDevIdentity(options: {
  dataDir: string;
  listenHost: string;
  reachableHost: string;
  port: number;
  gatewayPort: number;
}): Promise<HostedDevIdentity> {
  const dir = join(options.dataDir, DEV_IDENTITY_DIR);
  const users = new FileDevUserStore(join(dir, 'users.json'));
  const hosts = [...new Set(['127.0.0.1', 'localhost', options.reachableHost])];
  const provider = await startDevIdentityProvider({
    host: options.listenHost,
    port: options.port,
    issuer: `http://${options.reachableHost}:${options.port}`,
    dashboardOrigins: hosts.map((host) => `http://${host}:${options.gatewayPort}`),
    audience: AUDIENCE,
    users,
    keys: loadOrCreateDevIdentityKeys(join(dir, 'keys.json')),
    storagePath: join(dir, 'sessions.json'),
    log: (level, message, fields) => hostLog(level, message, fields),
  });
  return {
    provider,
    users,
    env: {
      OIDC_ISSUER: provider.issuer,
      OIDC_JWKS_URL: provider.jwksUrl,
      OIDC_AUDIENCE: AUDIENCE,
      DASHBOARD_OIDC_ISSUER: provider.issuer,
      DASHBOARD_OIDC_CLIENT_ID: provider.clientId,
    },
  };
}
