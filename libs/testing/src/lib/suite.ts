import { randomBytes } from 'node:crypto';
import { generateDevelopmentKeyPem } from '@gatehouse/crypto';
import { runCli } from './cli';
import { startService, type ServiceProcess } from './service-process';
import { createTestDatabase, TEST_REDIS_URL, uniqueChannel, type TestDatabase } from './test-database';

export interface SuiteOptions {
  /** How many findings-service instances to run; the gateway uses the first. */
  findingsInstances?: number;
  env?: Record<string, string>;
  /** Variables for admin-api only (e.g. its OIDC_* settings), on top of `env`. */
  adminEnv?: Record<string, string>;
  /**
   * Variables for auth-service only (e.g. its JWT_*SIGNING_KEY* settings), on top of `env`. A JWT_SIGNING_KEY
   * here replaces the generated one and becomes `signingKeyPem`.
   */
  authEnv?: Record<string, string>;
  /** Variables for every findings-service instance only (e.g. its SCAN_* limits or OIDC_*), on top of `env`. */
  findingsEnv?: Record<string, string>;
  /** Variables for the gateway only (e.g. its rate limits), on top of `env`. */
  gatewayEnv?: Record<string, string>;
  /**
   * The DATABASE_URL the apps and the CLI get, from the test database's direct URL (e.g. through a pooler); the
   * migration then runs with DATABASE_MIGRATION_URL set to the direct URL, as an operator runs it.
   */
  databaseUrl?: (directUrl: string) => string;
}

export interface BootstrapOutput {
  organization: { id: string; name: string; plan: string; created: boolean };
  api_key: string;
  api_key_id: string;
  client_id: string;
  permissions: string[];
}

export interface RunningSuite {
  gateway: ServiceProcess;
  auth: ServiceProcess;
  admin: ServiceProcess;
  findings: ServiceProcess[];
  database: TestDatabase;
  env: Record<string, string>;
  /** The PEM auth-service signs with, for tests that forge tokens around it. */
  signingKeyPem: string;
  bootstrap(org: string, plan?: string): Promise<BootstrapOutput>;
  /**
   * Stops auth-service and starts a new one on the same port, so the verifiers' JWKS_URL and the gateway keep
   * pointing at it, as a redeployment with changed variables would. `authEnv` replaces the one given at start;
   * JWT_SIGNING_KEY defaults to the generated key. Updates `auth` and `signingKeyPem`.
   */
  restartAuth(authEnv?: Record<string, string>): Promise<ServiceProcess>;
  /**
   * Another gateway replica in front of the same services (stopped with the suite), with `gatewayEnv` on top of
   * the first one's variables.
   */
  startGateway(gatewayEnv?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/**
 * A database of its own, migrated the way an operator does it: with the built CLI (through `databaseUrl`'s URL as
 * DATABASE_URL, with the direct one as DATABASE_MIGRATION_URL, when given). The services refuse an older schema.
 */
export function createMigratedTestDatabase(
  databaseUrl?: (directUrl: string) => string,
): Promise<TestDatabase> {
  return createTestDatabase({
    migrate: async (url) => {
      const result = await runCli(
        ['migrate'],
        databaseUrl ? { DATABASE_URL: databaseUrl(url), DATABASE_MIGRATION_URL: url } : { DATABASE_URL: url },
      );
      if (result.code !== 0) throw new Error(`migrate failed (${result.code}): ${result.stderr}`);
    },
  });
}

/**
 * The whole suite as separate processes on their own database and Redis channel: auth-service, admin-api and
 * findings-service instances first, then the gateway pointed at them.
 */
export async function startSuite(options: SuiteOptions = {}): Promise<RunningSuite> {
  const database = await createMigratedTestDatabase(options.databaseUrl);
  const env: Record<string, string> = {
    DATABASE_URL: options.databaseUrl ? options.databaseUrl(database.url) : database.url,
    REDIS_URL: TEST_REDIS_URL,
    KEY_EVENTS_CHANNEL: uniqueChannel(),
    JWT_ISSUER: 'gatehouse-test',
    JWT_AUDIENCE: 'gatehouse-test-api',
    DATABASE_POOL_SIZE: '4',
    // Each suite its own limiter buckets on the shared Redis; every test process comes from 127.0.0.1, so the
    // per-IP limit on refused credentials is raised out of the way of tests that are refused on purpose.
    RATE_LIMIT_KEY_PREFIX: `${uniqueChannel()}:rate-limit`,
    AUTH_FAILURES_PER_IP: '100000',
    // One per suite, as an operator sets one per deployment: the services believe the gateway only with it.
    GATEWAY_SECRET: randomBytes(32).toString('base64url'),
    ...options.env,
  };
  const generatedKeyPem = generateDevelopmentKeyPem();
  const authServiceEnv = (authEnv: Record<string, string> = {}) => ({
    ...env,
    JWT_SIGNING_KEY: generatedKeyPem,
    USAGE_FLUSH_INTERVAL_MS: '200',
    ...authEnv,
  });
  const started: ServiceProcess[] = [];
  const track = async (service: Promise<ServiceProcess>) => {
    const running = await service;
    started.push(running);
    return running;
  };
  try {
    const firstAuthEnv = authServiceEnv(options.authEnv);
    const auth = await track(startService('auth-service', firstAuthEnv));
    const verifierEnv = { ...env, JWKS_URL: `${auth.url}/api/v1/auth/jwks` };
    const [admin, ...findings] = await Promise.all([
      track(startService('admin-api', { ...verifierEnv, ...options.adminEnv })),
      ...Array.from({ length: options.findingsInstances ?? 1 }, () =>
        track(startService('findings-service', { ...verifierEnv, ...options.findingsEnv })),
      ),
    ]);
    const gatewayEnv = {
      ...env,
      AUTH_SERVICE_URL: auth.url,
      ADMIN_API_URL: admin.url,
      FINDINGS_SERVICE_URL: findings[0].url,
      JWKS_URL: `${auth.url}/api/v1/auth/jwks`,
      ...options.gatewayEnv,
    };
    const gateway = await track(startService('api-gateway', gatewayEnv));
    const suite: RunningSuite = {
      gateway,
      auth,
      admin,
      findings,
      database,
      env,
      signingKeyPem: firstAuthEnv.JWT_SIGNING_KEY,
      async restartAuth(authEnv?: Record<string, string>) {
        const previous = suite.auth;
        const port = new URL(previous.url).port;
        await previous.stop();
        const nextEnv = { ...authServiceEnv(authEnv), PORT: port };
        const restarted = await startService('auth-service', nextEnv);
        started[started.indexOf(previous)] = restarted;
        suite.auth = restarted;
        suite.signingKeyPem = nextEnv.JWT_SIGNING_KEY;
        return restarted;
      },
      async startGateway(extraEnv: Record<string, string> = {}) {
        return track(startService('api-gateway', { ...gatewayEnv, ...extraEnv }));
      },
      async bootstrap(org: string, plan?: string) {
        const result = await runCli(['bootstrap', '--org', org, ...(plan ? ['--plan', plan] : [])], env);
        if (result.code !== 0) throw new Error(`bootstrap failed (${result.code}): ${result.stderr}`);
        return JSON.parse(result.stdout) as BootstrapOutput;
      },
      async stop() {
        await Promise.all(started.map((service) => service.stop()));
        await database.drop();
      },
    };
    return suite;
  } catch (error) {
    await Promise.all(started.map((service) => service.stop()));
    await database.drop();
    throw error;
  }
}
