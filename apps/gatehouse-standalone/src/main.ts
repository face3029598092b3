import './instrument';
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isStandaloneEnvironment, loadConfig } from '@gatehouse/config';
import { generateDevelopmentKeyPem } from '@gatehouse/crypto';
import { embeddedLayout, openEmbeddedDatabase, resolveDataDir, runMigrations } from '@gatehouse/persistence';
import { startControlChannel } from './app/control-channel';
import {
  hostDevIdentity,
  refuseDevIdentityInProduction,
  type HostedDevIdentity,
} from './app/dev-identity-host';
import { hostLog, hostLogIsPretty, useHostLogFormat } from './app/host-logger';
import { StandaloneConfig } from './app/standalone.config';
import { holdPort, readyBanner, runningSuite, StartupRefusal, type HeldPort } from './app/startup';
import { SuiteLifecycle } from './app/suite-lifecycle';

/**
 * The whole suite in this one process (standalone mode, the default `npm start`): an embedded PostgreSQL
 * (PGlite) under the data directory, migrated at start, then the four apps' own bundles loaded side by side, each
 * on its usual port, with the in-process key-event bus between them, and a control channel for gatehouse-cli.
 * The apps' code is the same as in their own processes: this process sets their DATABASE_DRIVER, KEY_EVENTS_BUS
 * and RATE_LIMIT_STORE so that each chooses the embedded database, the in-process bus and in-memory limits.
 */

/** This bundle is dist/apps/gatehouse-standalone/main.js, next to the apps' bundles. */
const APPS_DIR = resolve(__dirname, '..');
const WORKSPACE_ROOT = resolve(__dirname, '../../..');
const LISTEN_TIMEOUT_MS = 60_000;

type AppName = 'auth-service' | 'findings-service' | 'admin-api' | 'api-gateway';
const APPS: AppName[] = ['auth-service', 'findings-service', 'admin-api', 'api-gateway'];

/** The variable that moves each app's port (PORT too for the gateway: the one port a user reaches). */
const PORT_VARIABLES: Record<AppName, string> = {
  'auth-service': 'AUTH_SERVICE_PORT',
  'findings-service': 'FINDINGS_SERVICE_PORT',
  'admin-api': 'ADMIN_API_PORT',
  'api-gateway': 'API_GATEWAY_PORT (or PORT)',
};

/** The variable that moves each app's management port (`GET /metrics`). */
const MANAGEMENT_PORT_VARIABLES: Record<AppName, string> = {
  'auth-service': 'AUTH_SERVICE_MANAGEMENT_PORT',
  'findings-service': 'FINDINGS_SERVICE_MANAGEMENT_PORT',
  'admin-api': 'ADMIN_API_MANAGEMENT_PORT',
  'api-gateway': 'API_GATEWAY_MANAGEMENT_PORT (or MANAGEMENT_PORT)',
};

const bundleOf = (app: AppName) => join(APPS_DIR, app, 'main.js');
const loadBundle = createRequire(__filename);

/** Where this process reaches its own servers: loopback when they listen on every address. */
function reachableHost(host: string): string {
  const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return local.includes(':') ? `[${local}]` : local;
}

async function waitUntilListening(app: AppName, url: string): Promise<void> {
  const deadline = Date.now() + LISTEN_TIMEOUT_MS;
  for (;;) {
    try {
      const response = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${app} did not listen on ${url} within ${LISTEN_TIMEOUT_MS} ms`);
    await sleep(50);
  }
}

/**
 * Packages that keep process-wide state of their own: Nest's static logger and the DI tokens of its core (which
 * swagger and the TypeORM module look up), nestjs-pino's root logger, passport's registry of strategies (both
 * verifying apps register one under the same name). Each app loads its own copy of these, as it would in its own
 * process. Every other package is shared, so that decorator metadata (class-transformer, class-validator,
 * TypeORM) stays where the apps' validation and ORM look for it, whenever they load a package lazily.
 */
const PER_APP_PACKAGES = [
  /[\\/]node_modules[\\/]@nestjs[\\/]/,
  /[\\/]node_modules[\\/](nestjs-pino|passport)[\\/]/,
];

/**
 * Runs an app's bundle in this process. Its main() reads the configuration synchronously, before its first
 * await, so PORT and MANAGEMENT_PORT set around the require are the ones it gets; every other variable is shared
 * by the four apps. The previous app has finished starting by then, so its own lazy loads of the per-app packages
 * are done.
 */
function startApp(app: AppName, port: number, managementPort: number): void {
  for (const path of Object.keys(loadBundle.cache)) {
    if (PER_APP_PACKAGES.some((pattern) => pattern.test(path))) delete loadBundle.cache[path];
  }
  process.env['PORT'] = String(port);
  process.env['MANAGEMENT_PORT'] = String(managementPort);
  try {
    loadBundle(bundleOf(app));
  } finally {
    delete process.env['PORT'];
    delete process.env['MANAGEMENT_PORT'];
  }
}

/**
 * Without a configured signing key, auth-service would make a throwaway one at every start and every token would
 * die with the process. Standalone mode keeps one in the data directory instead (owner-only), made once.
 */
function useKeptSigningKey(dataDir: string): void {
  if (process.env['JWT_SIGNING_KEY'] || process.env['JWT_SIGNING_KEY_FILE']) return;
  const path = join(dataDir, 'jwt-signing-key.pem');
  if (!existsSync(path)) {
    writeFileSync(path, generateDevelopmentKeyPem(), { mode: 0o600, flag: 'wx' });
    hostLog('info', 'made a token signing key for this data directory', { path });
  }
  process.env['JWT_SIGNING_KEY_FILE'] = path;
}

/**
 * The four apps of this process share one GATEWAY_SECRET: made here for this run unless configured. Nothing outside
 * the process needs it (the services listen on their own ports too, and believe the gateway only with it).
 */
function useGatewaySecret(): void {
  if (process.env['GATEWAY_SECRET']) return;
  process.env['GATEWAY_SECRET'] = randomBytes(32).toString('base64url');
}

async function main(lifecycle: SuiteLifecycle): Promise<void> {
  if (!isStandaloneEnvironment()) {
    throw new Error(
      'standalone mode embeds PostgreSQL and the key-event bus: unset DATABASE_URL and REDIS_URL, or run the ' +
        'four services against those servers (npm start does when either is set)',
    );
  }
  const config = loadConfig(StandaloneConfig);
  useHostLogFormat(config.LOG_FORMAT);
  refuseDevIdentityInProduction(config);
  const missing = APPS.filter((app) => !existsSync(bundleOf(app)));
  if (missing.length > 0) throw new StartupRefusal(`not built: ${missing.join(', ')} (run npm run build)`);
  const dataDir = resolveDataDir(WORKSPACE_ROOT);
  const running = await runningSuite(embeddedLayout(dataDir).controlSocket);
  if (running) {
    throw new StartupRefusal(
      `Gatehouse already runs on ${dataDir}, its database open in process ${running.pid} (gateway ` +
        `${running.gateway}): use that one, or stop it first (Ctrl-C where it runs)`,
    );
  }
  const configuredPorts: Record<AppName, number> = {
    'auth-service': config.AUTH_SERVICE_PORT,
    'findings-service': config.FINDINGS_SERVICE_PORT,
    'admin-api': config.ADMIN_API_PORT,
    'api-gateway': config.gatewayPort,
  };
  // Taken before the database opens (seconds on a first start) and kept until each app starts: a port in use is
  // the commonest failure, and each app would otherwise report it in its own words, naming PORT, which does not
  // move it here. Port 0 gets its free port here too.
  const configuredManagementPorts: Record<AppName, number> = {
    'auth-service': config.AUTH_SERVICE_MANAGEMENT_PORT,
    'findings-service': config.FINDINGS_SERVICE_MANAGEMENT_PORT,
    'admin-api': config.ADMIN_API_MANAGEMENT_PORT,
    'api-gateway': config.gatewayManagementPort,
  };
  const held = {} as Record<AppName, HeldPort>;
  const heldManagement = {} as Record<AppName, HeldPort>;
  for (const app of APPS) {
    held[app] = await holdPort(config.HOST, configuredPorts[app], PORT_VARIABLES[app]);
    heldManagement[app] = await holdPort(
      config.managementHost,
      configuredManagementPorts[app],
      MANAGEMENT_PORT_VARIABLES[app],
    );
  }
  const heldDevIdentity = config.devIdentityOn
    ? await holdPort(config.HOST, config.DEV_IDENTITY_PORT, 'DEV_IDENTITY_PORT')
    : undefined;
  // One process, four servers: each app gets its own port variables instead.
  delete process.env['PORT'];
  delete process.env['MANAGEMENT_PORT'];

  hostLog('info', 'opening the embedded database', { data_dir: dataDir });
  const openedAt = Date.now();
  const opening = openEmbeddedDatabase(dataDir);
  // Registered before it is open: a Ctrl-C during the first start lets PGlite finish initializing, then closes it.
  lifecycle.onStop('the embedded database', async () => {
    const opened = await opening.catch(() => undefined);
    await opened?.close();
  });
  const database = await opening;
  if (lifecycle.stopping) return;
  const applied = await runMigrations({ embedded: database, applicationName: 'gatehouse-standalone' });
  hostLog('info', applied.length ? 'applied migrations' : 'database is up to date', {
    applied,
    duration_ms: Date.now() - openedAt,
  });

  const host = reachableHost(config.HOST);
  const ports = Object.fromEntries(APPS.map((app) => [app, held[app].port])) as Record<AppName, number>;
  const urls = Object.fromEntries(APPS.map((app) => [app, `http://${host}:${ports[app]}`])) as Record<
    AppName,
    string
  >;
  const managementHost = reachableHost(config.managementHost);
  const metricsUrls = Object.fromEntries(
    APPS.map((app) => [app, `http://${managementHost}:${heldManagement[app].port}/metrics`]),
  ) as Record<AppName, string>;
  useKeptSigningKey(database.dataDir);
  useGatewaySecret();

  // Before the apps load: admin-api and findings-service read OIDC_* and the gateway DASHBOARD_OIDC_* at start.
  let devIdentity: HostedDevIdentity | undefined;
  if (heldDevIdentity) {
    await heldDevIdentity.release();
    const hosted = await hostDevIdentity({
      dataDir: database.dataDir,
      listenHost: config.HOST,
      reachableHost: host,
      port: heldDevIdentity.port,
      gatewayPort: ports['api-gateway'],
    });
    devIdentity = hosted;
    lifecycle.onStop('the development identity provider', () => hosted.provider.close());
    Object.assign(process.env, hosted.env);
  } else if (config.OIDC_ISSUER === undefined) {
    hostLog('info', 'DEV_IDENTITY=off and OIDC_ISSUER unset: the dashboard has no sign-in');
  }

  // The apps find each other here whatever these variables said, and each is told which drivers to use: the
  // database opened above, the in-process bus, and the gateway's limiter in memory (one gateway serves everything).
  Object.assign(process.env, {
    DATABASE_DRIVER: 'embedded',
    KEY_EVENTS_BUS: 'in-process',
    RATE_LIMIT_STORE: 'memory',
    JWKS_URL: `${urls['auth-service']}/api/v1/auth/jwks`,
    AUTH_SERVICE_URL: urls['auth-service'],
    FINDINGS_SERVICE_URL: urls['findings-service'],
    ADMIN_API_URL: urls['admin-api'],
  });

  // One after the other: auth-service first (the others fetch its JWKS), the gateway last (it reads the others'
  // API documents).
  for (const app of APPS) {
    if (lifecycle.stopping) return;
    await held[app].release();
    await heldManagement[app].release();
    startApp(app, ports[app], heldManagement[app].port);
    await waitUntilListening(app, urls[app]);
  }
  if (lifecycle.stopping) return;

  const status = {
    gateway: urls['api-gateway'],
    services: urls,
    metrics: metricsUrls,
    data_dir: database.dataDir,
    control_socket: database.layout.controlSocket,
    pid: process.pid,
    ...(devIdentity && {
      dev_identity: { issuer: devIdentity.provider.issuer, client_id: devIdentity.provider.clientId },
    }),
  };
  const control = await startControlChannel(
    database,
    config,
    () => status,
    devIdentity && { users: devIdentity.users, dashboardUrl: `${status.gateway}/` },
  );
  lifecycle.onStop('the control channel', () => control.close());
  const startupMs = Math.round(process.uptime() * 1000);
  if (hostLogIsPretty()) {
    process.stdout.write(
      readyBanner({
        gateway: status.gateway,
        metrics: metricsUrls['api-gateway'],
        dataDir: database.dataDir,
        defaultDataDir: resolveDataDir(WORKSPACE_ROOT, {}),
        startupMs,
        ...(devIdentity && { devIdentity: devIdentity.provider.issuer }),
      }),
    );
  } else {
    hostLog('info', 'standalone suite ready', {
      ...status,
      api_reference: `${status.gateway}/api/docs`,
      jwks: `${status.gateway}/api/v1/auth/jwks`,
      startup_ms: startupMs,
    });
  }
}

const lifecycle = new SuiteLifecycle();
main(lifecycle).catch((error: unknown) => lifecycle.fail(error));
